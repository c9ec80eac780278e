"""Turn an ``--lm`` value into a ``dspy.LM``: the embedded llama.cpp model or any model DSPy can reach.

Caching is DSPy's own response cache (on by default; it lives in $DSPY_CACHEDIR, else ~/.dspy_cache) and
works offline. Retries are DSPy's: ``num_retries`` attempts more on transport, timeout, rate-limit and server
errors, waiting 1, 2, 4, ... s (capped at 60 s, or the server's Retry-After); see ``failures`` for the error
the user sees after that.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import dspy

from afirs_dspy.lm.errors import LMSpecError
from afirs_dspy.lm.llama_engine import LlamaEngine, LlamaSettings, require_llama_cpp
from afirs_dspy.lm.model_files import GgufFile, ModelFile, RegistryModelFile, model_cache_dir, registry_model
from afirs_dspy.lm.specs import LMSpec

OFFLINE_METADATA_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"


def use_offline_model_metadata() -> None:
    """Make LiteLLM and DSPy read their bundled model/price table instead of fetching it at first use.

    Without it the first remote call tries github.com (5 s timeout, more with LiteLLM's retries). Set before
    LiteLLM is imported (DSPy imports it lazily, on the first LiteLLM-routed call); an explicit value is kept.
    """
    os.environ.setdefault(OFFLINE_METADATA_ENV, "True")


@dataclass(frozen=True)
class LMOptions:
    """Settings for one LM. ``None`` leaves a setting to the model: the local engine's greedy decoding with at
    most 1024 new tokens (``llama.sampling``), or the provider's default."""

    temperature: float | None = None
    max_tokens: int | None = None
    cache: bool = True
    num_retries: int = 3
    api_base: str | None = None
    api_key: str | None = None  # None: the provider's environment variable (e.g. OPENAI_API_KEY)
    model_cache_dir: Path | None = None  # assembled local models; None: $AFIRS_CACHE_DIR/models or ~/.cache/...
    llama: LlamaSettings = field(default_factory=LlamaSettings)


class LocalEngines:
    """Loaded local models, one engine per (model file, settings), held and closed by the caller.

    Pass the same instance to every ``make_lm`` call so the program's LM and the user simulator's LM share
    one loaded model (and its lock) instead of loading it twice.
    """

    def __init__(self) -> None:
        self._engines: dict[tuple[ModelFile, LlamaSettings], LlamaEngine] = {}
        self._lock = threading.Lock()

    def engine(self, model_file: ModelFile, settings: LlamaSettings) -> LlamaEngine:
        with self._lock:
            key = (model_file, settings)
            if key not in self._engines:
                self._engines[key] = LlamaEngine(model_file, settings)
            return self._engines[key]

    def close(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()

    def __enter__(self) -> LocalEngines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def local_model_file(spec: LMSpec, options: LMOptions) -> ModelFile:
    if spec.kind == "gguf":
        return GgufFile(Path(spec.target), spec.sha256)
    return RegistryModelFile(registry_model(spec.target), model_cache_dir(options.model_cache_dir))


def make_lm(spec: str | LMSpec | None = None, api_base: str | None = None, *,
            options: LMOptions | None = None, engines: LocalEngines | None = None) -> dspy.LM:
    """A ``dspy.LM`` for ``spec`` (see ``afirs_dspy.lm.specs``); ``api_base`` overrides ``options.api_base``.

    Local specs are checked now (llama-cpp-python and the model's files present), so a missing install fails
    at start-up; the model itself is checksum-verified and loaded on the first uncached call.
    """
    use_offline_model_metadata()
    spec = spec if isinstance(spec, LMSpec) else LMSpec.parse(spec)
    options = options or LMOptions()
    api_base = api_base or options.api_base
    common = {"temperature": options.temperature, "max_tokens": options.max_tokens, "cache": options.cache,
              "num_retries": options.num_retries}
    if spec.is_local:
        if api_base or options.api_key:
            raise LMSpecError(f"--api-base/api_key do not apply to the embedded model {spec.model_string()}; "
                              "give --lm <provider>/<model> to use a server")
        require_llama_cpp()
        model_file = local_model_file(spec, options)
        model_file.check_available()
        engine = (engines or LocalEngines()).engine(model_file, options.llama)
        return dspy.LM(spec.model_string(), engine=engine, **common)
    return dspy.LM(spec.target, **common, **_remote_route(spec.target, api_base, options.api_key))


def _remote_route(model: str, api_base: str | None, api_key: str | None) -> dict[str, str]:
    """Connection settings; an "openai/<m>" server at --api-base goes through LiteLLM so max_tokens arrives.

    DSPy's native OpenAI route sends ``max_completion_tokens``, which llama.cpp's server (and other
    OpenAI-compatible servers) ignore, so one call could run to thousands of tokens. LiteLLM sends
    ``max_tokens``. Servers named by their own prefix (hosted_vllm/, ollama_chat/, lm_studio/) already get it.
    """
    route: dict[str, str] = {}
    if api_base:
        route["api_base"] = api_base
    if api_key:
        route["api_key"] = api_key
    if api_base and model.split("/", 1)[0] == "openai":
        route["engine"] = "litellm"
        # A local OpenAI-compatible server takes any key, but the OpenAI client refuses to send none.
        if not api_key and not os.environ.get("OPENAI_API_KEY"):
            route["api_key"] = "EMPTY"
    return route
