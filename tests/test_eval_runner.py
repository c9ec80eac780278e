"""The runner: threads, transcript, resume after an interruption, errored sessions, and a short real run
of the attribute simulator against the AF-IRS program (toy world, scripted LM)."""
from __future__ import annotations

import itertools
import json

import pytest

from afirs_dspy.evaluation.attribute_simulator import AttributeSimulatorConfig, AttributeSimulators
from afirs_dspy.evaluation.run_config import RunMismatch, check_resumable, write_run_config
from afirs_dspy.evaluation.runner import Runner, TooManyErrors, complete_users, plan_jobs
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.evaluation.summary import build_summary
from afirs_dspy.evaluation.transcript import Transcript
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from scripted import ScriptedLM, field, listed
from test_eval_session import FakeProgram, ScriptedUser
from toy_world import GENRES, MOODS, toy_context, toy_dataset

CASES = [SessionCase(str(u), u, (1, 2)) for u in range(1, 9)]
SUCCESS = {1: 1, 2: 2, 3: 3, 5: 5, 6: 1, 8: 2}  # targets 4 and 7 never succeed
JOBS = plan_jobs(["fast", "slow"], CASES)


def programs(fail_for=()):
    return {"fast": FakeProgram(SUCCESS, set(fail_for)), "slow": FakeProgram({t: 5 for t in SUCCESS}, set(fail_for))}


def runner(path, fail_for=(), **options):
    return Runner(programs(fail_for), ScriptedUser, Transcript(path), num_threads=2, progress=False, **options)


def numbers(by_method):
    return build_summary(by_method, ["fast", "slow"], 5, 50, baseline="slow")["rows"]


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_uninterrupted_numbers_without_duplicates(tmp_path):
    expected = numbers(runner(tmp_path / "whole.jsonl").run(JOBS))
    assert expected[0]["SR@1"] == 2 / 8 and expected[0]["AT"] == (1 + 2 + 3 + 6 + 5 + 1 + 6 + 2) / 8

    seen = []

    def interrupt_after_five(record):
        seen.append(record)
        if len(seen) == 5:
            raise Interrupt

    path = tmp_path / "resumed.jsonl"
    with pytest.raises(Interrupt):
        runner(path, on_record=interrupt_after_five).run(JOBS)
    saved = Transcript(path).read()
    assert 5 <= len(saved) < len(JOBS)

    again = runner(path)
    assert len(again.pending(JOBS)) == len(JOBS) - len(saved)
    assert numbers(again.run(JOBS)) == expected
    keys = [r.key for r in Transcript(path).read()]
    assert len(keys) == len(set(keys)) == len(JOBS)


def test_a_time_limit_starts_no_new_user_after_it_and_resume_completes_the_run(tmp_path, monkeypatch):
    clock = itertools.count()  # every reading of the clock is one second later
    monkeypatch.setattr("afirs_dspy.evaluation.runner.time.monotonic", lambda: next(clock))
    path = tmp_path / "t.jsonl"
    limited = Runner(programs(), ScriptedUser, Transcript(path), num_threads=1, progress=False, time_limit=2.5)
    by_method = limited.run(JOBS)  # the deadline is read at 0; users start at 1 and 2, the third sees 3
    assert [(r.method, r.user) for r in Transcript(path).read()] == [(j.method, j.case.user) for j in JOBS[:4]]
    assert {m: [r.user for r in rs] for m, rs in complete_users(by_method).items()} == {"fast": ["1", "2"], "slow": ["1", "2"]}
    assert numbers(runner(path).run(JOBS)) == numbers(runner(tmp_path / "whole.jsonl").run(JOBS))


def test_a_user_started_before_the_time_limit_gets_every_method(tmp_path):
    path = tmp_path / "t.jsonl"
    runner(path).run(JOBS[:5])  # users 1 and 2, and user 3 by the first method only
    Runner(programs(), ScriptedUser, Transcript(path), num_threads=1, progress=False, time_limit=0).run(JOBS)
    assert [(r.method, r.user) for r in Transcript(path).read()][5:] == [("slow", "3")]


def test_a_failing_session_is_recorded_counted_as_a_failure_and_retried_on_resume(tmp_path):
    path = tmp_path / "t.jsonl"
    by_method = runner(path, fail_for={4}).run(JOBS)
    errored = [r for r in by_method["fast"] if r.status == "error"]
    assert len(errored) == 1 and errored[0].error == "RuntimeError: LM unreachable for 4"
    row = numbers(by_method)[0]
    assert (row["sessions"], row["errors"]) == (8, 1) and row["SR@5"] == 6 / 8  # the crashed session counts as a failure (6/7 when left out)

    resumed = runner(path).run(JOBS)  # fixed: the errored sessions run again and replace their error
    assert all(r.status == "ok" for rs in resumed.values() for r in rs)
    assert len(Transcript(path).read()) == len(JOBS) + 2


def test_too_many_errors_stop_the_run(tmp_path):
    with pytest.raises(TooManyErrors, match="3 sessions failed"):
        runner(tmp_path / "t.jsonl", fail_for=set(range(1, 9)), max_errors=3).run(JOBS)


def test_a_truncated_last_line_is_skipped_and_the_next_record_starts_a_new_line(tmp_path):
    path = tmp_path / "t.jsonl"
    runner(path).run(JOBS[:2])
    with open(path, "a") as handle:
        handle.write('{"method": "fast", "user": "2", "tar')
    transcript = Transcript(path)
    assert len(transcript.read()) == 2 and transcript.skipped_lines == 1
    runner(path).run(JOBS[:4])
    assert len(Transcript(path).read()) == 4


def test_run_config_must_match_to_resume(tmp_path):
    write_run_config(tmp_path, {"seed": 0, "methods": ("afirs",)})
    check_resumable(tmp_path, {"seed": 0, "methods": ["afirs"]})
    with pytest.raises(RunMismatch, match="seed: 0 there, 1 now"):
        check_resumable(tmp_path, {"seed": 1, "methods": ["afirs"]})


def test_sampling_is_seeded_and_a_prefix_of_larger_samples():
    dataset = toy_dataset()
    small, large = sample_cases(dataset, "test", 4, seed=1), sample_cases(dataset, "test", 8, seed=1)
    assert small == large[:4] and small != sample_cases(dataset, "test", 4, seed=2)
    assert len(sample_cases(dataset, "valid", 0)) == 12


def toy_lm():
    """A scripted LM that plays AF-IRS sensibly: it selects the tree nodes of the attributes the user named,
    refines to the candidates that have them, recommends once a genre and a mood are known, else asks."""
    def named(prompt):
        text = field(prompt, "user_responses").casefold()
        return {a for a in GENRES + MOODS if a.casefold() in text}

    def select(prompt):
        wanted = named(prompt)
        groups = {"Genre": set(GENRES), "Main genres": set(GENRES), "Mood": set(MOODS), "Feel": set(MOODS)}
        picks = []
        for line in listed(prompt, "nodes"):
            number, path = line.split(". ", 1)
            name = path.split(" > ")[-1]
            if name in wanted or groups.get(name, set()) & wanted:
                picks.append(int(number))
        return {"selected": json.dumps(picks)}

    def decide(prompt):
        text = field(prompt, "conversation").casefold()
        known = any(g.casefold() in text for g in GENRES) and any(m in text for m in MOODS)
        return {"reason": "r", "action": "recommend" if known else "ask"}

    return ScriptedLM({
        "[[ ## nodes ## ]]": select,
        "`[[ ## preferences ## ]]`": {"preferences": json.dumps({"likes": [], "dislikes": [], "constraints": []})},
        "[[ ## candidates ## ]]": {"selected": "[1, 2]"},
        "[[ ## items ## ]]": decide,
        "[[ ## candidate_distribution ## ]]": {"question": "Which mood: funny, dark or tense?"},
    })


def test_a_short_real_run_of_the_attribute_simulator_against_afirs(tmp_path):
    context = toy_context(tmp_path)
    program = build_program("afirs", context, AFIRSConfig(n_candidates=6, n_recommend=3))
    cases = sample_cases(context.dataset, "test", 6, seed=0)
    simulators = AttributeSimulators(context, seed=0, config=AttributeSimulatorConfig(n_open=1))
    run = Runner({"afirs": program}, simulators, Transcript(tmp_path / "t.jsonl"),
                 toy_lm(), context.catalog.titles, num_threads=2, progress=False)
    records = run.run(plan_jobs(["afirs"], cases))["afirs"]
    assert [r.user for r in records] == [c.user for c in cases] and all(r.status == "ok" for r in records)
    row = numbers({"fast": records, "slow": []})[0]
    assert row["SR@5"] > 0.5 and row["HR@50 first turn"] is not None and 0 <= row["DSR@5"] <= 1
    assert {r.program_hash for r in records} == {run.program_hashes["afirs"]} and len(run.program_hashes["afirs"]) == 16
    asked = [t for r in records for t in r.turns if t.action == "ask"]
    assert asked and all(t.user_reply for t in asked)
    assert all(t.program_usage.lm_calls > 0 for r in records for t in r.turns)


def test_the_sample_leaves_out_excluded_users_and_keeps_its_size_and_order():
    dataset = toy_dataset()
    everyone = [c.user for c in sample_cases(dataset, "test", 0, seed=0)]
    kept = [c.user for c in sample_cases(dataset, "test", 4, seed=0, exclude={everyone[0], everyone[2]})]
    assert kept == [u for u in everyone if u not in {everyone[0], everyone[2]}][:4]
