"""Compiling: training examples from validation sessions only, the metrics, a compile with the scripted LM
that changes the program, save → load → identical turns, and the manifest's refusals."""
from __future__ import annotations

import json
from dataclasses import replace

import dspy
import pytest

from afirs_dspy.compiled.program_file import new_manifest, restore_program, save_program
from afirs_dspy.data import PreprocessConfig
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.records import SessionRecord, TurnRecord
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.compiled.manifest import ManifestMismatch, Manifest, manifest_path
from afirs_dspy.optimize.compiler import CompileSettings, compile_program
from afirs_dspy.optimize.examples import Call, build_examples, decide_label, refine_label, select_label
from afirs_dspy.optimize.gold import TargetGold
from afirs_dspy.optimize.metrics import (
    as_metric, decision_score, node_selection_score, refinement_score, session_score,
)
from afirs_dspy.optimize.optimizers import OptimizerSettings
from afirs_dspy.optimize.recording import record_sessions
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from scripted import listed
from test_eval_runner import toy_lm
from toy_world import toy_context, write_toy_artifacts

SIZES = AFIRSConfig(n_candidates=6, n_recommend=3)


@pytest.fixture
def world(tmp_path):
    """The toy context, with its tree and a stand-in checkpoint written where the manifest hashes them."""
    context = toy_context(tmp_path / "cache")
    return context, write_toy_artifacts(context, tmp_path / "artifacts")


def test_gold_labels_come_from_the_tree_and_the_catalog(world):
    context, _ = world
    gold = TargetGold(context.tree, context.catalog, 12)  # Film 12: Comedy, funny; in the Romantic comedy group
    assert gold.paths == {"Genre", "Genre > Main genres", "Genre > Main genres > Comedy",
                          "Genre > Main genres > Comedy > Romantic comedy", "Mood", "Mood > Feel", "Mood > Feel > funny"}
    nodes = ["1. Genre > Main genres > Drama", "2. Genre > Main genres > Comedy", "3. Mood > Feel > funny"]
    assert select_label({"nodes": nodes}, gold) == {"selected": [2, 3]}
    assert select_label({"nodes": nodes[:1]}, gold) is None
    candidates = context.catalog.numbered([3, 12, 5])
    assert refine_label({"candidates": candidates}, gold) == {"selected": [2]}
    assert refine_label({"candidates": context.catalog.numbered([3, 5])}, gold) is None
    assert decide_label({"items": [context.catalog.line(12)]}, gold) == {"action": "recommend"}
    assert decide_label({"items": [context.catalog.line(3)]}, gold) == {"action": "ask"}


def test_examples_are_labelled_per_target_and_deduplicated(world):
    context, _ = world
    inputs = {"conversation": "User: hi", "items": [context.catalog.line(12)]}
    calls = [Call("decision_stage.decide", inputs, 12), Call("decision_stage.decide", inputs, 12),
             Call("decision_stage.decide", inputs, 3), Call("action_stage.summarize", {"conversation": "x"}, 12)]
    gold = lambda target: TargetGold(context.tree, context.catalog, target)  # noqa: E731
    examples = build_examples(calls, "decision_stage.decide", decide_label, gold)
    assert [e.action for e in examples] == ["recommend"]  # the repeated inputs are kept once
    assert set(examples[0].inputs().keys()) == {"conversation", "items"}


def test_recorded_sessions_use_validation_targets_only(world):
    context, _ = world
    dataset = context.dataset
    cases = sample_cases(dataset, "valid", 4, seed=0)
    test_targets = dict(zip(dataset.test.user, dataset.test.target))
    valid_targets = dict(zip(dataset.valid.user, dataset.valid.target))
    program = build_program("afirs", context, SIZES)
    sessions = record_sessions(program, AttributeSimulators(context, 0), cases, toy_lm(), 5, progress=False)
    for session in sessions:
        user = session.case.user
        assert session.case.target == valid_targets[user] != test_targets[user]
        assert test_targets[user] not in session.case.history
        assert session.calls and all(call.target == valid_targets[user] for call in session.calls)
        assert not any(test_targets[user] in t.items for t in session.record.turns)
    names = {call.predictor for s in sessions for call in s.calls}
    # The session's preferences are stated without an LM summary; the decision is the LM's.
    assert "decision_stage.decide" in names and "action_stage.summarize" not in names


def test_module_metrics_by_hand():
    nodes = dspy.Example(nodes=["1. A", "2. B", "3. C"], selected=[2, 3])
    f1, feedback = node_selection_score(nodes, dspy.Prediction(selected=[2, 1]))
    assert f1 == pytest.approx(0.5)  # precision 1/2, recall 1/2
    assert "precision 0.50, recall 0.50" in feedback and "2. B" in feedback
    assert node_selection_score(nodes, dspy.Prediction(selected=[]))[0] == 0.0
    decision = dspy.Example(action="ask")
    assert decision_score(decision, dspy.Prediction(action="ask"))[0] == 1.0
    assert decision_score(decision, dspy.Prediction(action="recommend"))[0] == 0.0
    refine = dspy.Example(candidates=["1. x", "2. y", "3. z"], selected=[3], k=2)
    assert refinement_score(refine, dspy.Prediction(selected=[1, 3]))[0] == 0.5
    assert refinement_score(refine, dspy.Prediction(selected=[1, 2, 3]))[0] == 0.0  # only the first k count
    with_feedback = as_metric(decision_score, feedback=True)(decision, dspy.Prediction(action="ask"), None, "decide", None)
    assert with_feedback.score == 1.0 and "right action was 'ask'" in with_feedback.feedback
    assert as_metric(decision_score)(decision, dspy.Prediction(action="ask")) == 1.0


def test_session_score_rewards_early_success():
    def record(accepted_at):
        turns = [TurnRecord(t, "recommend", [], [], [], [], "", "", t == accepted_at) for t in range(1, 6)]
        return SessionRecord("m", "u", 1, 0, "s", "hi", turns=turns)

    assert [session_score(record(t), 5) for t in (1, 3, 5, None)] == [1.0, 0.6, 0.2, 0.0]


def compiled_world(world, optimizer="bootstrap"):
    context, root = world
    program = build_program("afirs", context, SIZES)
    lm = toy_lm()
    cases = sample_cases(context.dataset, "valid", 6, seed=0)
    settings = CompileSettings(modules=("confirm", "decide", "refine"), optimizer=OptimizerSettings(optimizer))
    # (nothing calls confirm, nor refine with the score refinement: both are skipped, decide is compiled)
    report = compile_program(program, context.tree, context.catalog, AttributeSimulators(context, 0), cases, lm,
                             settings, progress=False, log=lambda line: None)
    return context, root, program, lm, report


def test_compile_changes_the_program_and_reports_before_and_after(world):
    context, root, program, lm, report = compiled_world(world)
    baseline = build_program("afirs", context, SIZES)
    assert report.changed
    by_name = {m.name: m for m in report.modules}
    assert by_name["confirm"].skipped and by_name["refine"].skipped
    assert by_name["decide"].changed and by_name["decide"].demos > 0 and by_name["decide"].n_train > 0
    assert by_name["decide"].after >= by_name["decide"].before and by_name["decide"].kept
    assert all(m.before is not None and m.after is not None for m in report.modules if not m.skipped)
    assert report.before.sessions == report.after.sessions == 3 and report.improved is not None
    assert program.dump_state() != baseline.dump_state()
    assert len(program.decision_stage.decide.demos) > 0
    assert set(report.train_users).isdisjoint(report.dev_users)
    rendered = report.render()
    assert "| decide |" in rendered and "| before |" in rendered and "| after |" in rendered


def test_save_then_restore_gives_the_same_turns(world, tmp_path):
    context, root, program, lm, report = compiled_world(world)
    manifest = new_manifest("afirs", SIZES, context, None, PreprocessConfig(), root, None, None,
                            {"name": "bootstrap"}, report.to_dict())
    path, manifest_file = save_program(program, tmp_path / "out" / "compiled.json", manifest)
    assert manifest_file == manifest_path(path) and json.loads(manifest_file.read_text())["method"] == "afirs"
    restored, loaded = restore_program(path, context, root)
    assert loaded.scores["changed"] is True and loaded.config == json.loads(json.dumps(manifest.config))
    assert restored.dump_state() == program.dump_state()
    copied = restored.deepcopy()  # DSPy copies programs while loading and optimizing: resources are shared
    assert copied.action_stage.tool is context.tool and copied.tree is context.tree and copied.catalog is context.catalog
    dialogue = [{"role": "user", "content": "a funny comedy please"}]
    with dspy.context(lm=lm):
        first, second = program(dialogue=dialogue, history=[1, 2]), restored(dialogue=dialogue, history=[1, 2])
    assert (first.action, first["items"], first.question) == (second.action, second["items"], second.question)


def test_the_manifest_refuses_other_artifacts_and_data(world, tmp_path):
    context, root, program, lm, report = compiled_world(world)
    manifest = new_manifest("afirs", SIZES, context, None, PreprocessConfig(), root, None, None, {}, {})
    path, _ = save_program(program, tmp_path / "compiled.json", manifest)
    (root / "ml-latest-small" / "sasrec" / "model.pt").write_bytes(b"retrained weights")
    with pytest.raises(ManifestMismatch, match="the recsys artifact .* is not the one the program was compiled with"):
        restore_program(path, context, root)
    (root / "ml-latest-small" / "sasrec" / "model.pt").write_bytes(b"toy weights")
    (root / "ml-latest-small" / "tree" / "tree.json").unlink()
    with pytest.raises(ManifestMismatch, match=r"the tree artifact .*\(missing\)"):
        restore_program(path, context, root)
    other = Manifest(**{**manifest.__dict__, "dataset": {**manifest.dataset, "data_key": "other"}})
    with pytest.raises(ManifestMismatch, match="differ from those the program was compiled on"):
        other.check("toy", root)
    manifest_path(path).unlink()
    with pytest.raises(ManifestMismatch, match="no manifest at"):
        restore_program(path, context, root)


def optimizer_lm():
    """The toy LM, answering also GEPA's reflection and MIPROv2's proposer prompts (matched first)."""
    lm = toy_lm()
    proposer = {
        "[[ ## current_instruction ## ]]": {"new_instruction": "Select the nodes the user names, most relevant first."},
        "[[ ## basic_instruction ## ]]": {"proposed_instruction": "Select the nodes the user names."},
        "[[ ## module ## ]]": {"module_description": "picks tree nodes"},
        "[[ ## program_code ## ]]": {"program_description": "a conversational recommender"},
        "[[ ## observations ## ]]": {"summary": "simulated sessions"},
        "[[ ## examples ## ]]": {"observations": "COMPLETE"},
    }
    lm.rules = {**proposer, **lm.rules}
    return lm, proposer


@pytest.mark.parametrize("optimizer", ["bootstrap-rs", "gepa", "mipro-light"])
def test_the_searching_optimizers_run_within_their_budget(world, optimizer):
    context, _ = world
    # The levelwise extraction, with a selector that always takes the last (least similar) node shown: its
    # picks are not all right, so every optimizer has work to do.
    levelwise = replace(SIZES, extraction="levelwise")
    program = build_program("afirs", context, levelwise)
    lm, proposer = optimizer_lm()
    lm.rules["[[ ## nodes ## ]]"] = lambda prompt: {"selected": json.dumps([len(listed(prompt, "nodes"))])}
    settings = CompileSettings(modules=("select",), session_eval=False, optimizer=OptimizerSettings(optimizer, budget=40))
    report = compile_program(program, context.tree, context.catalog, AttributeSimulators(context, 0),
                             sample_cases(context.dataset, "valid", 6, seed=0), lm, settings, progress=False,
                             log=lambda line: None)
    (select,) = report.modules
    assert select.before is not None and select.after is not None and report.after is None
    if optimizer == "gepa":
        assert lm.calls["[[ ## current_instruction ## ]]"] > 0  # it reflected
    if optimizer == "mipro-light":
        assert lm.calls["[[ ## basic_instruction ## ]]"] > 0  # it proposed instructions
    assert select.changed == (program.action_stage.extractor.select.dump_state()
                              != build_program("afirs", context, levelwise).action_stage.extractor.select.dump_state())


def test_a_compiled_module_that_scores_worse_on_dev_is_not_kept(world, monkeypatch):
    import afirs_dspy.optimize.compiler as compiler

    scores = iter([0.8, 0.5])  # before, after: compiling made the decision worse on the dev examples
    monkeypatch.setattr(compiler, "_evaluate", lambda *args, **kwargs: next(scores))
    context, _ = world
    program = build_program("afirs", context, SIZES)
    untouched = program.dump_state()
    settings = CompileSettings(modules=("decide",), session_eval=False)
    report = compile_program(program, context.tree, context.catalog, AttributeSimulators(context, 0),
                             sample_cases(context.dataset, "valid", 6, seed=0), toy_lm(), settings, progress=False,
                             log=lambda line: None)
    (decide,) = report.modules
    assert (decide.before, decide.after, decide.kept, decide.changed) == (0.8, 0.5, False, False)
    assert program.dump_state() == untouched and not report.changed
    assert "kept uncompiled, the dev metric fell" in report.render()
