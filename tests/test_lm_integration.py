"""Real DSPy calls through the embedded default model (skipped unless llama.cpp and the model are installed)."""
import importlib.util
from typing import Literal

import dspy
import pytest

from afirs_dspy.lm import LlamaSettings, LMOptions, LocalEngines, LocalModelMissing, make_lm
from afirs_dspy.lm.compact_adapter import CompactJSONAdapter

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason='llama-cpp-python is not installed (pip install -e ".[local]")')


class Decide(dspy.Signature):
    """Recommend now, or ask the user a question first."""

    conversation: str = dspy.InputField()
    decision: Literal["recommend", "ask"] = dspy.OutputField()


def test_default_local_model_answers_a_typed_signature_through_the_json_schema():
    with LocalEngines() as engines:
        try:
            lm = make_lm(None, options=LMOptions(cache=False, max_tokens=32), engines=engines)
        except LocalModelMissing as missing:
            pytest.skip(str(missing))
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), track_usage=True):
            prediction = dspy.Predict(Decide)(conversation="User: I want a movie. (Nothing else is known.)")
    assert prediction.decision in ("recommend", "ask")
    usage = lm.history[-1]["usage"]
    assert usage["prompt_tokens"] > 50 and 0 < usage["completion_tokens"] <= 32


class Summarize(dspy.Signature):
    """What the user likes."""

    conversation: str = dspy.InputField()
    likes: list[str] = dspy.OutputField()


def test_grammar_on_the_chosen_token_answers_as_the_grammar_on_every_token():
    """Greedy: a grammar-valid argmax is the argmax of the valid tokens, so both give the same JSON."""
    answers = []
    with LocalEngines() as engines:
        for grammar in ("every-token", "chosen-token"):
            try:
                lm = make_lm(None, options=LMOptions(cache=False, max_tokens=24, llama=LlamaSettings(grammar=grammar)),
                             engines=engines)
            except LocalModelMissing as missing:
                pytest.skip(str(missing))
            with dspy.context(lm=lm, adapter=CompactJSONAdapter()):  # its short prompt: the model answers in fences unconstrained
                prediction = dspy.Predict(Summarize)(conversation="User: a ghost story from the 80s")
            answers.append((lm.history[-1]["outputs"], prediction.likes))
    assert answers[0] == answers[1]
