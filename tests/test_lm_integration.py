"""One real DSPy call through the embedded default model (skipped unless llama.cpp and the model are installed)."""
import importlib.util
from typing import Literal

import dspy
import pytest

from afirs_dspy.lm import LMOptions, LocalEngines, LocalModelMissing, make_lm

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
