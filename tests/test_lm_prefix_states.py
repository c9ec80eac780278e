"""The KV prefix-state store (pure), and the engine reporting resumed prompt tokens as cache reads."""
import dspy

from afirs_dspy.lm.llama_engine import LlamaEngine
from afirs_dspy.lm.model_files import GgufFile
from afirs_dspy.lm.prefix_states import PrefixStates, common_prefix

import numpy as np
from test_lm_llama_engine import FakeLlama, FakeRuntime, json_reply, Decide


def test_common_prefix_counts_leading_equal_tokens():
    a = np.array([1, 2, 3, 4], dtype=np.intc)
    assert common_prefix(a, np.array([1, 2, 9], dtype=np.intc)) == 2
    assert common_prefix(a, a[:3]) == 3 and common_prefix(a, np.array([7], dtype=np.intc)) == 0


def test_the_state_sharing_the_longest_prefix_is_found():
    states = PrefixStates(1000)
    states.put([1, 2, 3, 10, 11], b"select")      # system prompt 1 2 3 of one signature
    states.put([1, 2, 4, 20], b"summarize")        # another signature, sharing less
    entry, length = states.longest([1, 2, 3, 10, 99, 98])
    assert (entry.state, length) == (b"select", 4)
    assert states.longest([5, 6])[1] == 0 and states.longest([5, 6])[0] is None


def test_a_state_covering_an_older_one_replaces_it_and_bytes_bound_the_store():
    states = PrefixStates(10)
    states.put([1, 2], b"aaaa")
    states.put([1, 2, 3], b"bbbb")   # extends [1, 2]: the shorter one is dropped
    assert len(states) == 1 and states.bytes == 4
    states.put([7], b"cccc")
    states.longest([1, 2, 3])        # marks [1, 2, 3] as recently used
    states.put([8], b"dddd")         # over 10 bytes: the least recently used ([7]) goes
    assert states.longest([7])[0] is None and states.longest([1, 2, 3])[1] == 3 and states.bytes == 8
    PrefixStates(0).put([1], b"x")   # capacity 0 keeps nothing (the cache is off)


def test_engine_reports_prompt_tokens_resumed_from_a_saved_state(tmp_path):
    llama = FakeLlama(json_reply)
    llama.reused_tokens = 7
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    lm = dspy.LM("local/test", engine=LlamaEngine(GgufFile(tmp_path / "m.gguf"), runtime=FakeRuntime(llama)), cache=False)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        dspy.Predict(Decide)(conversation="x")
    usage = lm.history[-1]["usage"]
    assert usage["prompt_tokens"] == 11 and usage["prompt_tokens_details"]["cached_tokens"] == 7
