"""--lm parsing and make_lm: which dspy.LM each spec gives, shared local engines, missing-install errors."""
import importlib.util
import os
from pathlib import Path

import pytest

import afirs_dspy.lm.backends as backends
from afirs_dspy.lm import (
    DEFAULT_LOCAL_MODEL,
    LlamaCppMissing,
    LlamaEngine,
    LMOptions,
    LMSpec,
    LMSpecError,
    LocalEngines,
    make_lm,
)
from afirs_dspy.lm.model_files import GgufFile, RegistryModelFile


@pytest.mark.parametrize("text, kind, target", [
    (None, "local", DEFAULT_LOCAL_MODEL),
    ("", "local", DEFAULT_LOCAL_MODEL),
    ("local", "local", DEFAULT_LOCAL_MODEL),
    ("local:qwen2.5-coder-0.5b", "local", "qwen2.5-coder-0.5b"),
    ("openai/gpt-4o-mini", "remote", "openai/gpt-4o-mini"),
    ("ollama_chat/qwen2.5:1.5b", "remote", "ollama_chat/qwen2.5:1.5b"),
])
def test_spec_kinds(text, kind, target):
    spec = LMSpec.parse(text)
    assert (spec.kind, spec.target) == (kind, target)


def test_gguf_spec_takes_an_optional_checksum():
    spec = LMSpec.parse("gguf:~/models/m.gguf#sha256=" + "AB" * 32)
    assert spec.target == str(Path("~/models/m.gguf").expanduser().resolve())
    assert spec.sha256 == "ab" * 32
    assert spec.model_string() == f"local/gguf:{spec.target}#sha256={'ab' * 32}"
    assert LMSpec.parse("gguf:/m.gguf").sha256 is None


@pytest.mark.parametrize("text, message", [
    ("local:nope", "unknown local model"),
    ("gguf:", "needs a path"),
    ("gguf:/m.gguf#sha256=123", "64 hex digits"),
    ("vllm/meta-llama/Llama-3-8B", "hosted_vllm/meta-llama/Llama-3-8B"),
])
def test_bad_specs_say_what_to_write(text, message):
    with pytest.raises(LMSpecError, match=message):
        LMSpec.parse(text)


@pytest.fixture
def llama_cpp_present(monkeypatch):
    monkeypatch.setattr(backends, "require_llama_cpp", lambda: None)


@pytest.fixture
def gguf(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_local_specs_give_an_lm_on_the_llama_engine(llama_cpp_present, tmp_path):
    (tmp_path / f"{DEFAULT_LOCAL_MODEL}.gguf").write_bytes(b"assembled")  # passes the start-up check
    options = LMOptions(model_cache_dir=tmp_path, cache=False, num_retries=1, max_tokens=50)
    lm = make_lm(None, options=options)
    assert lm.model == f"local/{DEFAULT_LOCAL_MODEL}"
    assert isinstance(lm.engine, LlamaEngine) and isinstance(lm.engine.model_file, RegistryModelFile)
    assert (lm.cache, lm.num_retries, lm.kwargs["max_tokens"]) == (False, 1, 50)
    assert lm.supports_response_schema and "response_format" in lm.supported_params
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"]


def test_program_and_simulator_lms_share_one_engine(llama_cpp_present, gguf):
    with LocalEngines() as engines:
        program = make_lm(f"gguf:{gguf}", engines=engines)
        simulator = make_lm(f"gguf:{gguf}", engines=engines, options=LMOptions(temperature=0.7))
        other = make_lm(f"gguf:{gguf}", engines=LocalEngines())
    assert program.engine is simulator.engine is not other.engine
    assert program.engine.model_file == GgufFile(gguf)


def test_missing_gguf_file_fails_at_make_lm(llama_cpp_present, tmp_path):
    with pytest.raises(LMSpecError, match="not found"):
        make_lm(f"gguf:{tmp_path / 'absent.gguf'}")


def test_api_base_does_not_apply_to_the_embedded_model(llama_cpp_present, gguf):
    with pytest.raises(LMSpecError, match="api-base"):
        make_lm(f"gguf:{gguf}", api_base="http://localhost:8000/v1")


def test_missing_llama_cpp_names_the_local_extra(monkeypatch, gguf):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "llama_cpp" else real_find_spec(name, *args))
    with pytest.raises(LlamaCppMissing, match=r'pip install -e "\.\[local\]"'):
        make_lm(f"gguf:{gguf}")


def test_openai_compatible_server_goes_through_litellm_with_a_placeholder_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    lm = make_lm("openai/qwen", api_base="http://localhost:8080/v1")
    assert (lm.engine, lm.kwargs["api_base"], lm.kwargs["api_key"]) == ("litellm", "http://localhost:8080/v1", "EMPTY")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert "api_key" not in make_lm("openai/qwen", api_base="http://localhost:8080/v1").kwargs


def test_hosted_models_keep_dspy_defaults():
    lm = make_lm("openai/gpt-4o-mini", options=LMOptions(api_key="sk-test", cache=False))
    assert (lm.engine, lm.kwargs["api_key"], lm.cache, lm.num_retries) == ("auto", "sk-test", False, 3)
    assert make_lm("hosted_vllm/m", "http://h:8000/v1").engine == "auto"
