"""What run.json ties a run to: the code digest, each program's state hash and the simulator's settings."""
from __future__ import annotations

from dataclasses import dataclass

import dspy

import afirs_dspy.evaluation.provenance as provenance
from afirs_dspy.evaluation.llm_simulator import LLMSimulators
from afirs_dspy.evaluation.provenance import code_digest, program_hash, simulator_settings
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import METHODS, build_program
from test_eval_runner import toy_lm
from test_programs_afirs import DIALOGUE, rules
from scripted import ScriptedLM
from toy_world import toy_context


def test_a_program_hash_is_stable_and_changes_with_state_and_switches(tmp_path):
    context = toy_context(tmp_path)
    sizes = AFIRSConfig(n_candidates=6, n_recommend=3)
    hashes = {m: program_hash(build_program(m, context, sizes)) for m in METHODS}
    assert hashes == {m: program_hash(build_program(m, context, sizes)) for m in METHODS}  # rebuilt: the same
    assert len(set(hashes.values())) == len(METHODS)  # the ablations differ by their switches alone

    program = build_program("afirs", context, sizes)
    with dspy.context(lm=ScriptedLM(rules())):
        program(dialogue=DIALOGUE, history=[1, 2])
    assert program_hash(program) == hashes["afirs"]  # running a turn changes nothing that counts
    program.decision_stage.decide.demos = [dspy.Example(conversation="c", items=["x"], reason="r", action="ask")]
    with_demo = program_hash(program)
    program.decision_stage.decide.signature = program.decision_stage.decide.signature.with_instructions("Decide.")
    assert len({hashes["afirs"], with_demo, program_hash(program)}) == 3
    assert program_hash(build_program("afirs", context, AFIRSConfig(6, 3, top_children=3))) != hashes["afirs"]


def test_code_digest_follows_the_sources(tmp_path, monkeypatch):
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    monkeypatch.setattr(provenance, "_source_files", lambda: {"afirs_dspy/module.py": source})
    before = code_digest()
    source.write_text("x = 2\n")
    assert code_digest() != before and len(before) == 16


@dataclass(frozen=True)
class Speakable:
    min_items: int = 5
    title_fragments: bool = False


class SettingsSimulators:
    """A simulator factory with its settings in a dataclass, as a future simulator may keep them."""

    name = "custom"

    def __init__(self, context):
        self.context = context
        self.speakable = Speakable()
        self.seed = 4


def test_simulator_settings_are_read_generically(tmp_path):
    context = toy_context(tmp_path)
    assert simulator_settings(SettingsSimulators(context)) == {
        "name": "custom", "class": "SettingsSimulators", "context": {"domain": "movies"},
        "speakable": {"min_items": 5, "title_fragments": False}, "seed": 4}
    llm = simulator_settings(LLMSimulators(context, toy_lm(), threshold=0.9))
    assert llm["name"] == "llm" and llm["options"] == {"threshold": 0.9} and "lm" not in llm
