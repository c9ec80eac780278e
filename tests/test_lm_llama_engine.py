"""LlamaEngine behind dspy.LM with a fake llama.cpp runtime: loading, locking, schema, usage, errors, state."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import dspy
import pytest
from dspy.clients.cache import Cache
from dspy.utils.exceptions import ContextWindowExceededError

from afirs_dspy.lm.llama_engine import LlamaEngine, LlamaSettings
from afirs_dspy.lm.llama_mapping import SamplingDefaults
from afirs_dspy.lm.model_files import GgufFile


class FakeLlama:
    """Records calls; answers with ``reply(messages)``; notices two threads inside at once."""

    def __init__(self, reply, delay=0.0):
        self.reply, self.delay = reply, delay
        self.calls, self.inside, self.max_inside, self.closed = [], 0, 0, False
        self._count_lock = threading.Lock()

    def create_chat_completion(self, **kwargs):
        with self._count_lock:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
        try:
            time.sleep(self.delay)
            self.calls.append(kwargs)
            if kwargs["messages"][-1]["content"].startswith("overflow"):
                raise ValueError("Requested tokens (5000) exceed context window of 4096")
            return {"id": "chatcmpl-x", "choices": [{"message": {"role": "assistant",
                                                                 "content": self.reply(kwargs)},
                                                     "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}}
        finally:
            with self._count_lock:
                self.inside -= 1

    def close(self):
        self.closed = True


class FakeRuntime:
    def __init__(self, llama):
        self.llama, self.loads, self.constraints = llama, [], []

    def load(self, path, settings):
        self.loads.append((path, settings))
        return self.llama

    def grammar(self, constraint):
        self.constraints.append(constraint)
        return "GRAMMAR", ()


class Decide(dspy.Signature):
    """Recommend now or ask a question."""

    conversation: str = dspy.InputField()
    decision: Literal["recommend", "ask"] = dspy.OutputField()
    item_ids: list[int] = dspy.OutputField()


def json_reply(kwargs):
    return json.dumps({"decision": "ask", "item_ids": [3, 1]})


def chat_reply(kwargs):
    return "[[ ## decision ## ]]\nrecommend\n\n[[ ## item_ids ## ]]\n[7]\n\n[[ ## completed ## ]]"


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    return path


def make_engine(model_path, reply=json_reply, delay=0.0, settings=None):
    runtime = FakeRuntime(FakeLlama(reply, delay))
    return LlamaEngine(GgufFile(model_path), settings, runtime=runtime), runtime


def test_json_adapter_schema_reaches_llama_as_a_grammar_and_usage_is_recorded(model_path):
    engine, runtime = make_engine(model_path)
    lm = dspy.LM("local/test", engine=engine, cache=False)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), track_usage=True):
        prediction = dspy.Predict(Decide)(conversation="likes sci-fi")
    assert (prediction.decision, prediction.item_ids) == ("ask", [3, 1])
    schema = runtime.constraints[0].schema
    assert schema["properties"]["decision"]["enum"] == ["recommend", "ask"]
    call = runtime.llama.calls[0]
    assert call["grammar"] == "GRAMMAR" and call["temperature"] == 0.0 and call["seed"] == 0
    assert call["messages"][0]["role"] == "system" and "likes sci-fi" in call["messages"][-1]["content"]
    assert prediction.get_lm_usage()["local/test"]["prompt_tokens"] == 11
    assert lm.history[-1]["usage"]["completion_tokens"] == 4


def test_chat_adapter_calls_are_unconstrained_and_lm_settings_arrive(model_path):
    engine, runtime = make_engine(model_path, reply=chat_reply)
    lm = dspy.LM("local/test", engine=engine, cache=False, temperature=0.3, max_tokens=64)
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
        prediction = dspy.Predict(Decide)(conversation="x")
    assert (prediction.decision, prediction.item_ids) == ("recommend", [7])
    assert runtime.constraints == []
    call = runtime.llama.calls[0]
    assert (call["grammar"], call["temperature"], call["max_tokens"]) == (None, 0.3, 64)


def test_grammar_off_decodes_freely_and_the_adapter_parses_the_json(model_path):
    engine, runtime = make_engine(model_path, settings=LlamaSettings(grammar="off"))
    lm = dspy.LM("local/test", engine=engine, cache=False)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        prediction = dspy.Predict(Decide)(conversation="likes sci-fi")
    assert (prediction.decision, prediction.item_ids) == ("ask", [3, 1])
    assert runtime.constraints == [] and runtime.llama.calls[0]["grammar"] is None


def test_model_loads_lazily_once_after_the_file_check(model_path):
    engine, runtime = make_engine(model_path, settings=LlamaSettings(n_ctx=2048, sampling=SamplingDefaults(seed=9)))
    lm = dspy.LM("local/test", engine=engine, cache=False)
    assert runtime.loads == []
    lm("one")
    lm("two")
    assert runtime.loads == [(model_path, engine.settings)]
    assert runtime.llama.calls[0]["seed"] == 9
    assert engine.load_seconds is not None


def test_parallel_dspy_threads_are_served_one_at_a_time(model_path):
    engine, runtime = make_engine(model_path, delay=0.02)
    lm = dspy.LM("local/test", engine=engine, cache=False)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(lambda i: lm(f"question {i}"), range(8)))
    assert len(outputs) == 8 and len(runtime.llama.calls) == 8
    assert runtime.llama.max_inside == 1
    assert len(runtime.loads) == 1


def test_prompt_too_long_is_dspy_context_window_error(model_path):
    engine, _ = make_engine(model_path)
    lm = dspy.LM("local/test", engine=engine, cache=False)
    with pytest.raises(ContextWindowExceededError):
        lm("overflow please")


def test_dspy_cache_answers_repeated_calls_without_the_engine(model_path, monkeypatch):
    monkeypatch.setattr(dspy, "cache", Cache(enable_disk_cache=False, enable_memory_cache=True,
                                             disk_cache_dir="", disk_size_limit_bytes=0, memory_max_entries=100))
    engine, runtime = make_engine(model_path)
    lm = dspy.LM("local/test", engine=engine)  # cache on: DSPy's default
    assert lm("same") == lm("same")
    assert len(runtime.llama.calls) == 1


def test_close_frees_the_model_and_a_later_call_reloads(model_path):
    engine, runtime = make_engine(model_path)
    lm = dspy.LM("local/test", engine=engine, cache=False)
    lm("a")
    engine.close()
    assert runtime.llama.closed
    lm("b")
    assert len(runtime.loads) == 2


def test_lm_with_this_engine_can_be_saved_and_loaded(model_path):
    settings = LlamaSettings(n_ctx=1024, sampling=SamplingDefaults(max_tokens=99))
    engine, _ = make_engine(model_path, settings=settings)
    state = dspy.LM("local/test", engine=engine).dump_state()
    json.dumps(state)
    restored = dspy.LM.load_state(state, allow_custom_lm_class=True)
    assert isinstance(restored.engine, LlamaEngine)
    assert (restored.engine.model_file, restored.engine.settings) == (engine.model_file, settings)
