"""``afirs-dspy build-tree`` and ``afirs-dspy extract`` through click, on the toy world with a scripted LM."""
from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

import afirs_dspy.lm.opening as lm_opening
import afirs_dspy.cli.tree as tree_cli
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.cli.tree import build_tree_command, extract_command
from afirs_dspy.domain.preference_tree import PreferenceTree
from scripted import BagOfWordsEmbedder, ScriptedLM
from test_programs_tree import NAMING
from toy_world import toy_dataset, toy_tree


@pytest.fixture
def toy(monkeypatch):
    """The toy data and embedder; returns a setter for the scripted LM the commands get."""
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())
    monkeypatch.setattr(tree_cli, "MiniLMEmbedder", BagOfWordsEmbedder)

    def use(rules):
        lm = ScriptedLM(rules)
        monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base=None, options=None, engines=None: lm)
        return lm
    return use


def test_build_tree_saves_the_tree_with_its_shape_report_and_leaves_no_step_log(toy, tmp_path):
    toy(NAMING)
    result = CliRunner().invoke(build_tree_command, ["--artifacts-dir", str(tmp_path), "--categories", "2"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "ml-latest-small" / "tree"
    tree = PreferenceTree.load(folder / "tree.json")
    shape = tree.meta["report"]["shape"]
    # 7 attributes cannot make 4 categories of 2 subcategories: reported, not hidden.
    assert shape["targets"]["at_least_4_categories"] is False and "shape targets NOT met" in result.output
    assert tree.meta["report"]["lm_steps"] > 0 and not (folder / tree_cli.STEP_LOG).exists()
    again = CliRunner().invoke(build_tree_command, ["--artifacts-dir", str(tmp_path)])
    assert again.exit_code == 0 and "exists for this data" in again.output


def test_build_tree_resumes_the_steps_an_interrupted_build_kept(toy, tmp_path):
    answers = iter([KeyboardInterrupt])

    def interrupted_once(prompt):
        answer = next(answers, None)
        if answer is KeyboardInterrupt:
            raise KeyboardInterrupt
        return NAMING["[[ ## category ## ]]"]

    toy({**NAMING, "[[ ## category ## ]]": interrupted_once})
    args = ["--artifacts-dir", str(tmp_path), "--categories", "2", "--misfit-window", "12"]  # interrupted at a misfit check
    first = CliRunner().invoke(build_tree_command, args)
    assert first.exit_code == 1 and "Aborted!" in first.output  # click's answer to Ctrl-C
    log = tmp_path / "ml-latest-small" / "tree" / tree_cli.STEP_LOG
    assert len(log.read_text().splitlines()) == 2  # the binding and the categories' names
    lm = toy(NAMING)
    second = CliRunner().invoke(build_tree_command, args)
    assert second.exit_code == 0, second.output
    categories = PreferenceTree.load(log.parent / "tree.json").children(0)
    # The categories' names came from the log (and subcategories are named from their attributes): no naming call.
    assert "resuming: 1 LM steps kept" in second.output and lm.calls["[[ ## parent ## ]]"] == 0
    assert {c.placed_by for c in categories} == {"llm"}


def test_an_unwritable_artifacts_dir_fails_at_once_with_one_line(toy, tmp_path):
    lm = toy(NAMING)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    started = time.perf_counter()
    result = CliRunner().invoke(build_tree_command, ["--artifacts-dir", str(blocker)])
    assert result.exit_code == 1 and time.perf_counter() - started < 1
    assert result.output.startswith(f"Error: --artifacts-dir {blocker}/ml-latest-small/tree: {blocker} is a file, not a folder")
    assert len(result.output.strip().splitlines()) == 1
    assert sum(lm.calls.values()) == 0


def test_extract_prints_the_full_path_picked_at_each_level(toy, tmp_path):
    dataset = toy_dataset()
    toy_tree(dataset.items).save(tmp_path / "ml-latest-small" / "tree" / "tree.json")
    toy({"[[ ## nodes ## ]]": {"selected": "[1]"}})
    result = CliRunner().invoke(extract_command, ["--artifacts-dir", str(tmp_path), "a romantic comedy"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("level 1 (category): ")
    assert lines[2].startswith("level 3 (attribute): Genre > Main genres > ")
    assert len(lines[2].split(" > ")) == 3 and lines[-1].startswith("items matching every preference: ")
    as_json = CliRunner().invoke(extract_command, ["--artifacts-dir", str(tmp_path), "--json", "a romantic comedy"])
    assert json.loads(as_json.output)["levels"][0][0]["path"] in ("Genre", "Mood")
