"""Bad inputs through the API and the run (issue 14, items 2, 3, 8 and 9): unparsable LM output is a
fallback, a lone surrogate is stored, bad dialogues and histories are clear ValueErrors for every
method, and an eval whose sessions mostly errored exits non-zero."""
from __future__ import annotations

import dspy
import numpy as np
import pytest
from click.testing import CliRunner

import afirs_dspy.evaluation.eval_run as eval_run
import afirs_dspy.lm.opening as lm_opening
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.evaluation.records import SessionRecord, TurnRecord
from afirs_dspy.evaluation.transcript import Transcript
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.guarded import guarded_call, valid_numbers
from afirs_dspy.programs.registry import METHODS, build_program
from scripted import ScriptedLM
from test_eval_runner import toy_lm
from toy_world import toy_context, toy_dataset

SIZES = AFIRSConfig(n_candidates=6, n_recommend=3)
OK_DIALOGUE = [{"role": "user", "content": "a funny comedy"}]


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    return toy_context(tmp_path_factory.mktemp("api"))


@pytest.mark.parametrize("output", [
    "[[ ## selected ## ]]\n" + "[" * 400 + "]" * 400 + "\n\n[[ ## completed ## ]]",     # DSPy's JSON fallback: ValueError
    "[[ ## selected ## ]]\n" + "[" * 1000 + "]" * 1000 + "\n\n[[ ## completed ## ]]",   # the adapter: RecursionError
])
def test_unparsable_output_is_a_fallback_not_a_crash(output):
    trace: list[dict] = []
    with dspy.context(lm=ScriptedLM({"": output})):
        picked = guarded_call(dspy.Predict("candidates: list[str] -> selected: list[int]"),
                              lambda p: valid_numbers(p.selected, 3), lambda: "fallback", trace, "refine",
                              candidates=["1. a", "2. b", "3. c"])
    assert picked in ("fallback", [0, 1]) and trace[-1]["status"] in ("fallback", "ok", "retried")


def test_a_lone_surrogate_in_the_dialogue_reaches_the_lm_repaired(context):
    lm = toy_lm()
    dialogue = [{"role": "user", "content": "a funny comedy \ud800"}, {"role": "assistant", "content": "which \udfff mood?"},
                {"role": "user", "content": "funny"}]
    with dspy.context(lm=lm):
        turn = build_program("afirs", context, SIZES)(dialogue=dialogue, history=[1, 2])
    assert all(event.get("status") != "fallback" for event in turn.trace) and sum(lm.calls.values()) > 0


def test_a_lone_surrogate_is_stored_and_read_back(tmp_path):
    turn = TurnRecord(turn=1, action="ask", items=[], preselected=[], candidates=[], preferences=[],
                      question="which \ud800 genre?", reply="which \ud800 genre?", accepted=False)
    record = SessionRecord(method="m", user="u\udfff", target=1, history_length=0, simulator="s", opener="hi \ud800",
                           turns=[turn], status="ok", simulator_stats={}, seconds=0.0)
    transcript = Transcript(tmp_path / "transcript.jsonl")
    transcript.append(record)
    transcript.append(record)
    assert transcript.read() == [record, record] and transcript.skipped_lines == 0


BAD_DIALOGUES = ["a funny comedy", {"role": "user", "content": "x"}, ["a funny comedy"], [None],
                 [{"role": "user", "content": 5}], [{"role": "system", "content": "x"}], []]
BAD_HISTORIES = [[10**20], [25], [0], [-1], [1.0], [True], ["1"], "12", 7, None, [[1]]]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_refuses_bad_dialogues_and_histories_with_a_value_error(context, method):
    program = build_program(method, context, SIZES)
    for dialogue in BAD_DIALOGUES:
        with pytest.raises(ValueError, match="dialogue"):
            program(dialogue=dialogue, history=[1, 2])
    for history in BAD_HISTORIES:
        with pytest.raises(ValueError, match="history"):
            program(dialogue=OK_DIALOGUE, history=history)


def test_histories_of_numpy_ids_and_tuples_are_accepted(context):
    program = build_program("no-refine", context, SIZES)
    with dspy.context(lm=toy_lm()):
        for history in (np.array([1, 2], dtype=np.int64), (1, 2), []):
            assert program(dialogue=OK_DIALOGUE, history=history).action in ("ask", "recommend")


def failing_lm():
    def fail(prompt):
        raise RuntimeError("the LM is down")

    return ScriptedLM({"": fail})


@pytest.mark.parametrize("share, code", [(0.5, 1), (1.0, 0)])
def test_an_eval_whose_sessions_errored_exits_non_zero(monkeypatch, tmp_path, share, code):
    context = toy_context(tmp_path / "tree")
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())
    monkeypatch.setattr(eval_run, "load_context", lambda dataset, artifacts_dir: context)
    monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base, options=None, engines=None: failing_lm())
    result = CliRunner().invoke(eval_command, ["--out", str(tmp_path / "run"), "--n-sessions", "2", "--no-progress",
                                               "--n-candidates", "6", "--n-recommend", "3",
                                               "--max-error-share", str(share)])
    assert result.exit_code == code, result.output
    assert "2 sessions errored" in result.output
    assert ("2 of 2 sessions errored, more than --max-error-share 0.5" in result.output) == (code == 1)
