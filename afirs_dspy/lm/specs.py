"""What ``--lm`` says: the embedded local model, another registry model, a GGUF file, or any dspy.LM model string.

    (none) or "local"            the default embedded model (llama.cpp in this process)
    "local:<name>"               another model from the local registry (afirs_dspy.lm.model_files.LOCAL_MODELS)
    "gguf:<path>"                any GGUF file; "gguf:<path>#sha256=<hex>" also checks it before loading
    anything else                a dspy.LM model string, e.g. "openai/gpt-4o-mini", "ollama_chat/qwen2.5",
                                 "hosted_vllm/<model>" or "openai/<model>" with --api-base for a vLLM/llama.cpp server
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from afirs_dspy.lm.errors import LMSpecError
from afirs_dspy.lm.model_files import DEFAULT_LOCAL_MODEL, registry_model

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CHECKSUM_SUFFIX = "#sha256="


@dataclass(frozen=True)
class LMSpec:
    """A parsed ``--lm`` value. ``target`` is a registry name, an absolute GGUF path, or a model string."""

    kind: Literal["local", "gguf", "remote"]
    target: str
    sha256: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> LMSpec:
        text = (text or "").strip()
        if text in ("", "local"):
            return cls("local", DEFAULT_LOCAL_MODEL)
        if text.startswith("local:"):
            return cls("local", registry_model(text.removeprefix("local:")).name)
        if text.startswith("gguf:"):
            return cls._parse_gguf(text.removeprefix("gguf:"))
        if text.split("/", 1)[0] == "vllm":
            # LiteLLM's "vllm/" runs vLLM inside this process; a server is reached another way.
            model = text.split("/", 1)[-1]
            raise LMSpecError(f"--lm {text} would run vLLM inside this process; for a vLLM server use "
                              f"--lm hosted_vllm/{model} --api-base http://HOST:PORT/v1")
        return cls("remote", text)

    @classmethod
    def _parse_gguf(cls, rest: str) -> LMSpec:
        path_text, _, checksum = rest.partition(_CHECKSUM_SUFFIX)
        if not path_text:
            raise LMSpecError("--lm gguf: needs a path, e.g. gguf:/models/qwen2.5-1.5b-instruct-q4_k_m.gguf")
        if checksum and not _SHA256.fullmatch(checksum):
            raise LMSpecError(f"--lm gguf:...{_CHECKSUM_SUFFIX} needs 64 hex digits, got {checksum!r}")
        return cls("gguf", str(Path(path_text).expanduser().resolve()), checksum.lower() or None)

    @property
    def is_local(self) -> bool:
        return self.kind != "remote"

    def model_string(self) -> str:
        """The dspy.LM model string; it names the model in history and in DSPy's cache key."""
        if self.kind == "local":
            return f"local/{self.target}"
        if self.kind == "gguf":
            return f"local/gguf:{self.target}" + (f"{_CHECKSUM_SUFFIX}{self.sha256}" if self.sha256 else "")
        return self.target
