"""LM backends: the embedded local llama.cpp model and any dspy.LM model string.

    from afirs_dspy.lm import LocalEngines, make_lm
    with LocalEngines() as engines:
        program_lm = make_lm(None, engines=engines)              # embedded default model
        simulator_lm = make_lm("openai/gpt-4o-mini")             # or share the local one: make_lm(None, engines=engines)
"""
from afirs_dspy.lm.backends import LMOptions, LocalEngines, make_lm, use_offline_model_metadata
from afirs_dspy.lm.errors import (
    LlamaCppMissing,
    LMSetupError,
    LMSpecError,
    LMUnavailable,
    LocalModelMissing,
    ModelChecksumMismatch,
)
from afirs_dspy.lm.failures import explain_lm_failure, lm_failures_explained
from afirs_dspy.lm.llama_engine import LlamaEngine, LlamaSettings
from afirs_dspy.lm.llama_mapping import SamplingDefaults
from afirs_dspy.lm.model_files import DEFAULT_LOCAL_MODEL, LOCAL_MODELS, GgufFile, RegistryModelFile
from afirs_dspy.lm.specs import LMSpec

__all__ = [
    "DEFAULT_LOCAL_MODEL", "LOCAL_MODELS", "GgufFile", "LMOptions", "LMSetupError", "LMSpec", "LMSpecError",
    "LMUnavailable", "LlamaCppMissing", "LlamaEngine", "LlamaSettings", "LocalEngines", "LocalModelMissing",
    "ModelChecksumMismatch", "RegistryModelFile", "SamplingDefaults", "explain_lm_failure",
    "lm_failures_explained", "make_lm", "use_offline_model_metadata",
]
