"""A DSPy LM engine that runs a GGUF model in this process with llama.cpp (llama-cpp-python).

Use it as ``dspy.LM("local/<name>", engine=LlamaEngine(...))``: DSPy keeps its cache, retries, history and
usage tracking; the engine does one completion per call. It declares ``supports_response_schema``, so DSPy's
JSONAdapter sends the output schema, which becomes a llama.cpp grammar: the decoded text is JSON of that shape.
Each prompt resumes from the saved KV state sharing its longest prefix (``prefix_states``), so a signature's
system message and stable leading fields are evaluated once, not at every call.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

from dspy.lm15 import Adaptation, Request, Response, response_to_events

from afirs_dspy.lm.cpu_backend import ensure_cpu_backend
from afirs_dspy.lm.errors import LlamaCppMissing
from afirs_dspy.lm.llama_mapping import (
    JsonConstraint,
    SamplingDefaults,
    chat_messages,
    context_overflow,
    free_decoding_adaptation,
    json_constraint,
    response_from_completion,
    sampling_arguments,
    schema_fallback_adaptation,
)
from afirs_dspy.lm.model_files import ModelFile, model_file_from_state
from afirs_dspy.lm.prefix_states import PrefixStates

logger = logging.getLogger(__name__)

LLAMA_CPP_REQUIREMENT = "llama-cpp-python==0.3.36"
# The README's build: every x86 CPU variant beside libllama, one chosen at run time (cpu_backend).
LLAMA_CPP_CMAKE_ARGS = ("-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON "
                        "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Half the usable cores, at least one (llama-cpp-python's own rule too). Every llama.cpp thread waits for
    the others at each token, so when other work holds a core, one thread per core stalls: on 2 busy shared
    vCPUs, 2 threads generated 2-19x slower than 1 (bench/results/lm_speed.md)."""
    return max(1, available_cores() // 2)


@dataclass(frozen=True)
class LlamaSettings:
    """How the model is loaded and what a request that sets nothing gets."""

    n_ctx: int = 4096
    n_threads: int | None = None  # generation; None: default_threads()
    # prompt processing; None: every usable core. Prompt evaluation is compute-bound and a process's LM calls
    # run one at a time: on the idle 2-core machine 2 threads evaluated 39.9 prompt tok/s vs 23.4 for 1
    # (bench/results/turn_cost.md), while generation stalls on a second thread. Set 1 when other jobs hold cores.
    n_threads_batch: int | None = None
    n_batch: int = 512
    # KV states of recent prompts, resumed by longest prefix (0: off; prefix_states). ~28 KB a token for the
    # 1.5B model: a turn stores ~4-9 prompts, and 512 MB lost the system messages between methods' sessions.
    prefix_cache_mb: int = 1024
    # How a JSON answer is constrained (bench/results/json_decoding.md): "chosen-token" asks the grammar about the
    # sampled token and masks the vocabulary only when it is refused; "every-token" masks the whole vocabulary at
    # every token (llama-cpp-python's way; the same greedy answers, slower); "off" decodes freely and leaves
    # the JSON to the adapter's parser (a parse failure goes to the program's retry).
    grammar: Literal["chosen-token", "every-token", "off"] = "chosen-token"
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    verbose: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LlamaSettings:
        return cls(**{**data, "sampling": SamplingDefaults(**data.get("sampling", {}))})


def require_llama_cpp() -> None:
    """Fail early with the install command when llama-cpp-python is absent (checked without loading it)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LlamaCppMissing(
            "The embedded local LM needs llama-cpp-python, which is not installed. Install the local extra:\n"
            f'  CMAKE_ARGS="{LLAMA_CPP_CMAKE_ARGS}" pip install -e ".[local]"   (from a checkout)\n'
            f'or only the runtime: CMAKE_ARGS="{LLAMA_CPP_CMAKE_ARGS}" pip install {LLAMA_CPP_REQUIREMENT}. Either '
            "compiles llama.cpp for every x86 CPU level (40 min on 2 busy cores). "
            "Or use another LM with --lm, e.g. --lm ollama_chat/qwen2.5 or --lm openai/gpt-4o-mini."
        )


class LlamaCppRuntime:
    """The engine's way into llama_cpp: loading a model (on the CPU backend chosen for this machine) and
    compiling JSON grammars."""

    def load(self, path: Path, settings: LlamaSettings) -> Any:
        require_llama_cpp()
        cpu = ensure_cpu_backend()  # before the model: a run-time-choice build has no CPU code until then
        logger.info("llama.cpp CPU backend: %s", cpu.describe())
        from afirs_dspy.lm.caching_llama import PrefixCachingLlama

        threads = settings.n_threads or default_threads()
        return PrefixCachingLlama(
            model_path=str(path), n_ctx=settings.n_ctx, n_threads=threads,
            n_threads_batch=settings.n_threads_batch or available_cores(), n_batch=settings.n_batch,
            seed=settings.sampling.seed, verbose=settings.verbose,
            prefix_states=PrefixStates(settings.prefix_cache_mb << 20),
            grammar_on_chosen_token=settings.grammar == "chosen-token",
        )

    def grammar(self, constraint: JsonConstraint) -> tuple[Any, tuple[Adaptation, ...]]:
        """The grammar for a JSON constraint; a schema llama.cpp cannot compile falls back to any JSON, recorded."""
        require_llama_cpp()
        from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

        if constraint.schema is not None:
            # Compiled here, not via response_format, because llama-cpp-python would fall back silently.
            try:
                return LlamaGrammar.from_json_schema(json.dumps(constraint.schema), verbose=False), ()
            except Exception as exc:  # its converter raises bare Exceptions for unsupported schema features
                logger.warning("llama.cpp cannot compile this JSON schema (%s); constraining to any JSON object", exc)
                return LlamaGrammar.from_string(JSON_GBNF, verbose=False), (schema_fallback_adaptation(),)
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False), ()


class LlamaEngine:
    """One llama.cpp model, loaded lazily on the first call after its file passes the checksum.

    A llama.cpp context is not thread-safe, so one lock covers loading and every generation: parallel DSPy
    threads (``dspy.Parallel``, ``Evaluate(num_threads=...)``) are served one at a time. Closing is the
    owner's job (``dspy.LM.close`` leaves custom engines alone): call ``close()`` or use
    ``afirs_dspy.lm.LocalEngines``.
    """

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = frozenset({"temperature", "max_tokens", "top_p", "top_k", "stop", "seed",
                                  "frequency_penalty", "presence_penalty", "response_format"})

    def __init__(self, model_file: ModelFile, settings: LlamaSettings | None = None,
                 runtime: LlamaCppRuntime | None = None):
        self.model_file = model_file
        self.settings = settings or LlamaSettings()
        self._runtime = runtime or LlamaCppRuntime()
        self._lock = threading.Lock()
        self._llama: Any = None
        self.load_seconds: float | None = None  # file check + load, for benchmarks and logs

    def _loaded_model(self) -> Any:
        """Call with the lock held."""
        if self._llama is None:
            started = time.perf_counter()
            path = self.model_file.resolve()  # assembles if needed and checks the SHA-256
            self._llama = self._runtime.load(path, self.settings)
            # Freed with the engine, or at interpreter exit while llama_cpp still works: its own __del__ at
            # shutdown finds the library half torn down and prints "Exception ignored in: Llama.__del__".
            self._free = weakref.finalize(self, self._llama.close)
            self.load_seconds = time.perf_counter() - started
            logger.info("loaded %s in %.1f s", self.model_file.describe(), self.load_seconds)
        return self._llama

    def load(self) -> None:
        """Load now rather than on the first call."""
        with self._lock:
            self._loaded_model()

    def tokenize(self, text: str) -> list[int]:
        """The model's tokens for ``text``, special tokens (``<|im_start|>``) read as such."""
        with self._lock:
            return self._loaded_model().tokenize(text.encode(), add_bos=False, special=True)

    def complete(self, request: Request) -> Response:
        messages = chat_messages(request)
        arguments = sampling_arguments(request.config, self.settings.sampling)
        constraint = json_constraint(request.config)
        if constraint and self.settings.grammar == "off":
            grammar, adaptations = None, (free_decoding_adaptation(request.config),)
        else:
            grammar, adaptations = self._runtime.grammar(constraint) if constraint else (None, ())
        with self._lock:
            llama = self._loaded_model()
            try:
                completion = llama.create_chat_completion(messages=messages, grammar=grammar, **arguments)
            except ValueError as exc:
                overflow = context_overflow(exc)
                if overflow is None:
                    raise
                raise overflow from exc
            reused = getattr(llama, "reused_tokens", None)
        return response_from_completion(completion, request.model, adaptations, reused)

    def stream(self, request: Request) -> Iterator[Any]:
        """The whole completion as one burst of stream events (llama.cpp token streaming is not wired in)."""
        return response_to_events(self.complete(request))

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._free()
                self._llama = None

    # Lets DSPy save an LM that uses this engine (loading it back needs allow_unsafe_lm_state=True).
    def dump_state(self) -> dict[str, Any]:
        return {"model_file": self.model_file.to_state(), "settings": asdict(self.settings)}

    @classmethod
    def load_state(cls, state: Mapping[str, Any]) -> LlamaEngine:
        return cls(model_file_from_state(state["model_file"]), LlamaSettings.from_dict(state["settings"]))
