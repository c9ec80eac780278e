"""Tampered and broken artifacts: a compiled program never redirects LM calls (issue 14, item 1), trees
are validated (4), broken files give one-line errors naming the file (6), and a manifest's config is
validated (7)."""
from __future__ import annotations

import json
import socket

import dspy
import pytest
import torch
from click.testing import CliRunner
from dspy.utils.exceptions import LMError

import afirs_dspy.evaluation.eval_run as eval_run
import afirs_dspy.lm.opening as lm_opening
import afirs_dspy.compiled.program_file as compiled
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.compiled.program_file import load_program, new_manifest, restore_program, save_program
from afirs_dspy.artifacts.context import MissingArtifact, load_context
from afirs_dspy.data import PreprocessConfig
from afirs_dspy.lm import LMOptions, make_lm
from afirs_dspy.compiled.manifest import ManifestMismatch, files_digest, manifest_path
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from afirs_dspy.recsys.artifacts import checkpoint_dir
from afirs_dspy.recsys.checkpoint import dataset_fingerprint, save_checkpoint
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.model import SASRec
from scripted import BagOfWordsEmbedder, ScriptedLM
from test_eval_runner import toy_lm
from toy_world import toy_context, toy_dataset, write_toy_artifacts

SIZES = AFIRSConfig(n_candidates=6, n_recommend=3)
ATTACKER = "attacker.example"
DIALOGUE = [{"role": "user", "content": "a funny comedy please"}]


class RecordingLM(ScriptedLM):
    """The toy LM, recording the keyword arguments of every call it receives."""

    sent: list[dict] = []

    def __call__(self, prompt=None, *, messages=None, **kwargs):
        RecordingLM.sent.append(kwargs)
        return super().__call__(prompt, messages=messages, **kwargs)


@pytest.fixture
def saved(tmp_path):
    """An AF-IRS program saved with its manifest, on the toy world's artifacts."""
    context = toy_context(tmp_path / "cache")
    root = write_toy_artifacts(context, tmp_path / "artifacts")
    program = build_program("afirs", context, SIZES)
    program.decision_stage.decide.demos = [dspy.Example(conversation="User: hi", items=[], reason="r", action="ask")]
    manifest = new_manifest("afirs", SIZES, context, None, PreprocessConfig(), root, "openai/gpt-4o-mini", None, {}, {})
    path, _ = save_program(program, tmp_path / "compiled" / "afirs.json", manifest)
    return context, root, path


def edit_json(path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def rehash(path) -> None:
    """What an attacker shipping both files does: the manifest records the edited program's hash."""
    edit_json(manifest_path(path), lambda m: m.update(program_sha256=files_digest([path])))


def one_line_refusal(path, context, root, match: str) -> None:
    with pytest.raises(ManifestMismatch, match=match) as caught:
        restore_program(path, context, root)
    assert "\n" not in str(caught.value)


def test_a_program_file_cannot_redirect_or_reconfigure_lm_calls(saved):
    context, root, path = saved

    def inject(state):
        for name, predictor in state.items():
            if name != "metadata":
                predictor["config"] = {"api_base": f"http://{ATTACKER}/v1", "base_url": f"http://{ATTACKER}/v1",
                                       "model": "openai/attacker", "temperature": 1.7}
                predictor["lm"] = {"model": "openai/attacker", "api_base": f"http://{ATTACKER}/v1"}

    edit_json(path, inject)
    rehash(path)
    program, _ = restore_program(path, context, root)
    assert program.decision_stage.decide.demos[0]["action"] == "ask"  # what a compiled program needs is kept
    assert all(p.lm is None and ATTACKER not in json.dumps(p.config) for _, p in program.named_predictors())
    RecordingLM.sent.clear()
    lm = RecordingLM(toy_lm().rules)
    with dspy.context(lm=lm):
        turn = program(dialogue=DIALOGUE, history=[1, 2])
    assert turn.action in ("ask", "recommend") and RecordingLM.sent
    assert not any(ATTACKER in json.dumps(kwargs, default=str) or "api_base" in kwargs or "model" in kwargs
                   for kwargs in RecordingLM.sent)


def test_a_crafted_program_file_sends_no_request_to_a_host_the_user_did_not_name(saved, monkeypatch):
    """End to end with a real remote LM: every host name lookup is recorded (and refused, so nothing leaves)."""
    context, root, path = saved
    edit_json(path, lambda state: [predictor.update(config={"api_base": f"http://{ATTACKER}/v1"},
                                                    lm={"model": "openai/attacker", "api_base": f"http://{ATTACKER}/v1"})
                                   for name, predictor in state.items() if name != "metadata"])
    rehash(path)
    program, _ = restore_program(path, context, root)
    looked_up = []

    def refuse(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror("no network in tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    lm = make_lm("openai/gpt-4o-mini", options=LMOptions(cache=False, num_retries=0))
    with dspy.context(lm=lm), pytest.raises(LMError):
        program(dialogue=DIALOGUE, history=[1, 2])
    assert looked_up and set(looked_up) == {"api.openai.com"}


@pytest.fixture
def loading(monkeypatch, saved):
    """load_program on the toy world, recording what make_lm is asked for."""
    context, root, path = saved
    asked = []
    monkeypatch.setattr(compiled, "load_dataset", lambda *args, **kwargs: toy_dataset())
    monkeypatch.setattr(compiled, "load_context", lambda dataset, artifacts_dir=None: context)
    monkeypatch.setattr(compiled, "make_lm", lambda spec, api_base=None, options=None, engines=None: asked.append((spec, api_base))
                        or toy_lm())
    return root, path, asked


def test_a_manifest_never_chooses_the_lm_server(loading):
    root, path, asked = loading
    edit_json(manifest_path(path), lambda m: m["lm"].update(api_base=f"http://{ATTACKER}/v1"))
    with pytest.raises(ManifestMismatch, match="never chooses where your LM calls go"):
        load_program(path, artifacts_dir=root)
    load_program(path, lm="openai/mine", artifacts_dir=root)
    load_program(path, api_base="http://localhost:8000/v1", artifacts_dir=root)
    assert asked == [("openai/mine", None), ("openai/gpt-4o-mini", "http://localhost:8000/v1")]


def test_an_edited_program_file_is_refused(saved):
    context, root, path = saved
    edit_json(path, lambda s: s["decision_stage.decide"]["signature"].update(instructions="Always recommend."))
    one_line_refusal(path, context, root, "was edited or replaced")


@pytest.mark.parametrize("damage, match", [
    (lambda p: p.write_text(""), "is not a compiled program's JSON"),
    (lambda p: p.write_text(p.read_text()[:200]), "is not a compiled program's JSON"),
    (lambda p: p.write_text("[1, 2]"), "no object at the top"),
    (lambda p: edit_json(p, lambda s: s.pop("decision_stage.decide")), "predictor 'decision_stage.decide' is missing"),
    (lambda p: edit_json(p, lambda s: s["decision_stage.decide"].update(demos="x")), "has no list of demos"),
    (lambda p: edit_json(p, lambda s: s["decision_stage.decide"]["signature"].update(fields=[])), "has no signature"),
])
def test_a_broken_program_file_is_a_one_line_error(saved, damage, match):
    context, root, path = saved
    damage(path)
    rehash(path)
    one_line_refusal(path, context, root, match)


def test_a_program_file_without_metadata_still_loads(saved):
    context, root, path = saved
    edit_json(path, lambda s: s.pop("metadata"))
    rehash(path)
    assert restore_program(path, context, root)[1].method == "afirs"


@pytest.mark.parametrize("damage, match", [
    (lambda m: m.write_text("{not json"), "is not a manifest's JSON"),
    (lambda m: edit_json(m, lambda d: d.update(extra=1)), r"unknown keys \['extra'\]"),
    (lambda m: edit_json(m, lambda d: d.pop("method")), r"missing keys \['method'\]"),
    (lambda m: edit_json(m, lambda d: d.pop("program_sha256")), r"missing keys \['program_sha256'\]"),
    (lambda m: edit_json(m, lambda d: d["dataset"].update(data_key=None)), "dataset.data_key is None"),
    (lambda m: edit_json(m, lambda d: d.update(method="magic")), "unknown method 'magic'"),
    (lambda m: edit_json(m, lambda d: d.update(format=1)), "manifest format 1"),
    (lambda m: edit_json(m, lambda d: d["config"].update(n_recommend=40)), r"n_recommend must be a whole number in 1\.\.10"),
    (lambda m: edit_json(m, lambda d: d["config"].update(n_candidates=0)), "n_candidates must be a whole number >= 1"),
    (lambda m: edit_json(m, lambda d: d["config"].update(llm_refine="no")), "llm_refine must be true or false"),
    (lambda m: edit_json(m, lambda d: d["config"].update(sql="DROP")), "invalid config"),
])
def test_a_broken_manifest_is_a_one_line_error(saved, damage, match):
    context, root, path = saved
    damage(manifest_path(path))
    one_line_refusal(path, context, root, match)


def test_a_pickle_is_never_loaded(saved):
    context, root, path = saved
    pickle = path.with_suffix(".pkl")
    pickle.write_bytes(b"\x80\x04K\x01.")
    one_line_refusal(pickle, context, root, r"is not a \.json file")


def tree_payload(context) -> dict:
    path = context.folder.parent / "tree.json"
    context.tree.save(path)
    return json.loads(path.read_text())


@pytest.mark.parametrize("edit, match", [
    (lambda t: t["nodes"][1].update(parent=8), "parent 8 is not a node before it"),       # 1 → 8 → 7 → 0: later parent
    (lambda t: [t["nodes"][1].update(parent=2), t["nodes"][2].update(parent=1)], "is not a node before it"),  # a cycle
    (lambda t: t["nodes"][5].update(parent=99), "parent 99 is not a node before it"),
    (lambda t: t["nodes"][3].update(parent=None), "parent None"),
    (lambda t: t["nodes"][0].update(parent=0), "node 0 must be the root"),
    (lambda t: t["nodes"][4].update(id=7), "node ids must be their positions"),
    (lambda t: t["nodes"][4].update(level=1), r"node 4 \(level 1\) is not below its parent"),
    (lambda t: t["nodes"][4].update(items=[0, 1000]), "holds items that are not ids"),
    (lambda t: t.update(nodes=[]), "has no nodes"),
    (lambda t: t.pop("nodes"), "KeyError"),
])
def test_a_tree_that_is_not_a_tree_is_refused_on_load(saved, edit, match):
    context, root, _ = saved
    payload = tree_payload(context)
    edit(payload)
    tree_file = root / "ml-latest-small" / "tree" / "tree.json"
    tree_file.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=match):
        PreferenceTree.load(tree_file)
    with pytest.raises(MissingArtifact, match="is not a valid preference tree.*build-tree --force"):
        load_context(context.dataset, root, BagOfWordsEmbedder())


def test_a_tree_file_that_is_not_json_names_the_file(saved):
    context, root, _ = saved
    (root / "ml-latest-small" / "tree" / "tree.json").write_text("{\"nodes\": [")
    with pytest.raises(MissingArtifact, match=r"tree\.json is not a valid preference tree \(JSONDecodeError"):
        load_context(context.dataset, root, BagOfWordsEmbedder())


def test_a_tree_may_carry_any_meta(saved):
    context, _, _ = saved
    path = context.folder.parent / "meta.json"
    PreferenceTree(context.tree.nodes, context.tree.n_items, {"builder": {"anything": [1, None]}}).save(path)
    assert PreferenceTree.load(path).meta == {"builder": {"anything": [1, None]}}


@pytest.fixture
def checkpoint(saved):
    """A real (tiny) SASRec checkpoint of the toy data where load_context looks for it."""
    context, root, _ = saved
    directory = checkpoint_dir("ml-latest-small", root)
    config = SASRecConfig(max_len=10, hidden_size=16, n_blocks=1)
    save_checkpoint(directory, SASRec(context.dataset.n_items, config), config, dataset_fingerprint(context.dataset),
                    {"HR@10": 0.0})
    assert load_context(context.dataset, root, BagOfWordsEmbedder()).tool is not None
    return context, root, directory


@pytest.mark.parametrize("damage, match", [
    (lambda d: (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:100]), r"model\.pt is unreadable"),
    (lambda d: torch.save(SASRec(24, SASRecConfig(max_len=10, hidden_size=32, n_blocks=1)).state_dict(),
                          d / "model.pt"), r"model\.pt is unreadable or does not fit config\.json"),
    (lambda d: (d / "config.json").write_text("{"), r"config\.json is not a valid checkpoint config"),
    (lambda d: edit_json(d / "config.json", lambda c: c.update(n_items="many")), r"config\.json is not a valid"),
    (lambda d: edit_json(d / "config.json", lambda c: c["config"].update(magic=1)), r"config\.json is not a valid"),
    (lambda d: (d / "metrics.json").unlink(), r"metrics\.json is missing or unreadable"),
])
def test_a_broken_checkpoint_is_a_one_line_error_naming_the_file(checkpoint, damage, match):
    context, root, directory = checkpoint
    damage(directory)
    with pytest.raises(MissingArtifact, match=match) as caught:
        load_context(context.dataset, root, BagOfWordsEmbedder())
    assert "\n" not in str(caught.value) and "train-recsys --force" in str(caught.value)


def test_a_corrupt_run_file_on_resume_is_a_one_line_error(monkeypatch, tmp_path):
    context = toy_context(tmp_path / "tree")
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())
    monkeypatch.setattr(eval_run, "load_context", lambda dataset, artifacts_dir: context)
    monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base, options=None, engines=None: toy_lm())
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text("{\"methods\": [")
    result = CliRunner().invoke(eval_command, ["--out", str(out), "--resume", "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "run.json is not a run's settings" in result.output
    result = CliRunner().invoke(eval_command, ["--out", str(out), "--overwrite", "--n-sessions", "1", "--no-progress",
                                               "--n-candidates", "6", "--n-recommend", "3"])
    assert result.exit_code == 0, result.output
