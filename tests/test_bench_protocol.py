"""The benchmark scripts keep to the evaluation protocol: interactive.py resumes only when asked, and
Figure 6 scores the three candidate sources on first turns only (not on one method's later dialogue)."""
from __future__ import annotations

import sys
from pathlib import Path

import dspy
import pytest

from afirs_dspy.artifacts.context import node_vectors
from afirs_dspy.evaluation.sampling import development_cases

from scripted import BagOfWordsEmbedder, ScriptedLM
from toy_world import toy_context, toy_items, toy_tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import candidate_hit_rate  # noqa: E402
import extraction  # noqa: E402
import interactive  # noqa: E402
import questions  # noqa: E402


class Stop(Exception):
    pass


@pytest.mark.parametrize("asked", [False, True])
def test_interactive_passes_resume_only_when_asked(tmp_path, monkeypatch, asked):
    run = tmp_path / "interactive" / "toy-attribute-n10-seed0"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{}")  # an earlier run: it used to be resumed whatever had changed
    seen = []

    def run_eval(dataset, out, n_sessions, args, **changes):
        seen.append(changes)
        raise Stop

    monkeypatch.setattr(interactive, "RESULTS", tmp_path)
    monkeypatch.setattr(interactive, "run_eval", run_eval)
    monkeypatch.setattr(sys, "argv", ["interactive.py", "--datasets", "toy", *(["--resume"] if asked else [])])
    with pytest.raises(Stop):
        interactive.main()
    assert seen[0]["resume"] == asked


def test_figure6_scores_the_same_first_turn_of_each_user_three_ways(tmp_path):
    context = toy_context(tmp_path)
    lm = ScriptedLM({"[[ ## nodes ## ]]": {"selected": "[1]"},
                     "[[ ## attributes ## ]]": {"required": "[1]", "excluded": "[]"}})
    with dspy.context(lm=lm):
        cases = candidate_hit_rate.first_turns(context, development_cases(context.dataset, 4), seed=0)
        result = candidate_hit_rate.hit_rates(candidate_hit_rate.CandidateSources(context), cases)
    assert len(cases) == 4 and all(isinstance(text, str) and text for text, _, _ in cases)
    assert result["turns"] == 4 and set(result["hit_rate"]) == set(candidate_hit_rate.WAYS)
    assert all(result["hit_rate"][w] == result["hits"][w] / 4 for w in candidate_hit_rate.WAYS)


def test_the_questions_report_states_the_paired_tests_of_the_evaluation():
    from afirs_dspy.evaluation.records import SessionRecord, TurnRecord
    from afirs_dspy.evaluation.significance import compare

    def session(user, success_turn, method):
        turns = [TurnRecord(turn=k, action="recommend", items=[1], preselected=[1], candidates=None, preferences=[],
                            question="", reply="", accepted=k == success_turn) for k in range(1, (success_turn or 5) + 1)]
        return SessionRecord(method=method, user=user, target=1, history_length=0, simulator="s", opener="", turns=turns)

    after = [session("a", 1, "after"), session("b", 2, "after")]
    before = [session("a", 3, "before"), session("b", None, "before")]
    line = questions.paired_line(compare(after, before, 5))
    assert line.startswith("Paired, after vs before on 2 users: McNemar SR@1 b/c 1/0")
    assert "SR@5 b/c 1/0" in line and "AT Δ -3 (sign-flip p 0.5)" in line  # a failure counts 6 turns


def test_the_extraction_report_pairs_each_tree_with_the_first_on_the_same_requests():
    def hits(*flags):
        return {"per_request": [{"hit": f, "reached_1": f, "reached_2": True} for f in flags]}

    results = {"ml": {"old": hits(True, False, False, True), "new": hits(True, True, True, False)}}
    assert extraction.paired_lines(results) == [
        "ml, hit: new vs old on 4 requests: new only 2, old only 1, exact McNemar p 1.",
        "ml, most-similar descent, no LM: new vs old on 4 requests: new only 2, old only 1, exact McNemar p 1.",
        "ml, reachable among 2 / level: new vs old on 4 requests: new only 0, old only 0, exact McNemar p 1."]


def test_the_descent_without_the_lm_reaches_what_its_first_options_lead_to():
    tree, embedder = toy_tree(toy_items()), BagOfWordsEmbedder()
    vectors = node_vectors(tree, embedder)
    comedy = embedder.encode(["slapstick comedy"])[0]
    assert extraction.reaches(tree, vectors, comedy, {"Comedy"}, options=1)
    # The request ranks Genre above Mood: the first option never leads to a mood, three options per level do.
    assert not extraction.reaches(tree, vectors, comedy, {"tense"}, options=1)
    assert extraction.reaches(tree, vectors, comedy, {"tense"}, options=3)
    assert not extraction.reaches(tree, vectors, comedy, {"no such attribute"}, options=3)
