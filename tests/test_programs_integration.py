"""One real AF-IRS turn through the embedded local model and the real sentence embedder
(skipped unless llama.cpp and the model are installed; the README's test command installs them)."""
from __future__ import annotations

import importlib.util

import dspy
import pytest

from afirs_dspy.artifacts.context import node_vectors
from afirs_dspy.text.embeddings import MiniLMEmbedder
from afirs_dspy.lm import LMOptions, LocalEngines, LocalModelMissing, make_lm
from afirs_dspy.programs.afirs import AFIRS, AFIRSConfig
from toy_world import toy_context

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason='llama-cpp-python is not installed (pip install -e ".[local]")')


def test_a_real_turn_with_the_local_model(tmp_path):
    context = toy_context(tmp_path)
    embedder = MiniLMEmbedder()
    config = AFIRSConfig(n_candidates=8, n_recommend=3, top_children=4, max_per_level=1)
    program = AFIRS(context.tree, context.tool, context.catalog, embedder,
                    node_vectors(context.tree, embedder), config)
    with LocalEngines() as engines:
        try:
            lm = make_lm(None, options=LMOptions(cache=False), engines=engines)
        except LocalModelMissing as missing:
            pytest.skip(str(missing))
        with dspy.context(lm=lm):
            out = program(dialogue=[{"role": "user", "content": "I want a funny horror film"}], history=[1, 2])
    assert out.action in ("recommend", "ask")
    assert len(out.candidates) == 8 and not {1, 2} & set(out.candidates)
    assert set(out.preselected) <= set(out.candidates) and len(out.preselected) == 3
    assert out.reply.strip()
    steps = [event["step"] for event in out.trace]
    assert steps[0] == "confirm" and {"tool", "refine", "decide"} <= set(steps)
    assert all(event["status"] in ("ok", "retried", "fallback") for event in out.trace)
