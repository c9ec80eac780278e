"""The session memory in simulated sessions (issue 31) and the opener's share of SR@1 (issue 32).

    python bench/memory_sessions.py [--n-sessions 30] [--protocols now "before issue 32"] [--lm …] [--num-threads 1]

The users of bench/results/questions (the first 30 of the seed-0 test sample: the documented development
slice), the attribute simulator, AF-IRS with this code under two protocols:

- "before issue 32" (``BEFORE_ISSUE_32``: the opener says two attributes whatever they leave): the same
  simulator as bench/results/questions' committed transcript, whose "after" arm is the program before issue
  31 — so the two are paired user by user (the same users, targets and simulator; only the data's attribute
  spellings differ, issue 31's case merge);
- "now" (openers leave more than 50 items, reveals from general to specific): the protocol of Table 2.

Per arm: recommend turns that bring back an item the session already showed (rejected: the user went on),
SR@1/3/5 and AT, with McNemar's exact test per SR@t (discordant users). Transcripts under
bench/results/memory_sessions/ (resumable); writes bench/results/memory_sessions.{md,json}.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from scipy import stats

from afirs_dspy.artifacts.context import load_context
from afirs_dspy.cli.lm_options import open_lm
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.attribute_simulator import BEFORE_ISSUE_32, AttributeSimulatorConfig, AttributeSimulators
from afirs_dspy.evaluation.metrics import average_turns, success_rate
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.runner import Runner, plan_jobs
from afirs_dspy.evaluation.sampling import development_cases
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.programs.registry import build_program
from lm_arguments import add_lm_arguments
from results_files import RESULTS, write_results

PROTOCOLS = {"before issue 32": BEFORE_ISSUE_32, "now": AttributeSimulatorConfig()}
OLD_PROGRAM = RESULTS / "questions" / "ml-latest-small-seed0" / TRANSCRIPT  # its arm "after": before issue 31
MAX_TURNS = 5


def repeating_turns(record: SessionRecord) -> tuple[int, int]:
    """(recommend turns after the session's first that show an item shown before in it, such turns)."""
    shown: set[int] = set()
    repeats = later = 0
    for turn in record.turns:
        if turn.action != "recommend":
            continue
        if shown:
            later += 1
            repeats += bool(shown & set(turn.items))
        shown |= set(turn.items)
    return repeats, later


def figures(records: list[SessionRecord]) -> dict:
    repeats = [repeating_turns(r) for r in records]
    k, n = sum(r for r, _ in repeats), sum(n for _, n in repeats)
    total = sum(turn.action == "recommend" for r in records for turn in r.turns)
    return {"users": len(records), "recommend turns": total,
            "later recommend turns repeating": f"{k}/{n} ({k / n:.0%})" if n else "0/0",
            **{f"SR@{t}": success_rate(records, t) for t in (1, 3, 5)}, "AT": average_turns(records, MAX_TURNS)}


def mcnemar(a: list[SessionRecord], b: list[SessionRecord], turns: int) -> str:
    """McNemar's exact test of SR@turns, a against b, paired by user: "only a / only b, p"."""
    by_user = {r.user: r for r in b}
    pairs = [(success_rate([r], turns) > 0, success_rate([by_user[r.user]], turns) > 0) for r in a if r.user in by_user]
    only_a = sum(x and not y for x, y in pairs)
    only_b = sum(y and not x for x, y in pairs)
    p = stats.binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    return f"{only_a}/{only_b}, p {p:.3g}"


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-sessions", type=int, default=30)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS), default=list(PROTOCOLS),
                        help="Protocols to run (one per process runs them side by side; the report reads all).")
    parser.add_argument("--report-only", action="store_true")
    add_lm_arguments(parser)
    return parser


def users(dataset, args: argparse.Namespace) -> list:
    """The first --n-sessions test users of the development slice: bench/results/questions' users."""
    return development_cases(dataset, args.n_sessions)


def main() -> None:
    args = arguments().parse_args()
    dataset = load_dataset("ml-latest-small")
    context = load_context(dataset)
    cases = users(dataset, args)
    folder = RESULTS / "memory_sessions"
    if not args.report_only:
        with LocalEngines() as engines:
            lm = open_lm(args.lm, args.api_base, engines)
            for protocol in args.protocols:
                config = PROTOCOLS[protocol]
                runner = Runner({"afirs": build_program("afirs", context)}, AttributeSimulators(context, 0, config),
                                Transcript(folder / f"{protocol.replace(' ', '-')}.jsonl"), lm, context.catalog.titles,
                                MAX_TURNS, args.num_threads)
                runner.run(plan_jobs(["afirs"], cases))
    user_ids = {case.user for case in cases}
    arms = {"program before issue 31, protocol before issue 32": [
        r for (method, user), r in Transcript(OLD_PROGRAM).latest().items() if method == "after" and user in user_ids]}
    for protocol in PROTOCOLS:
        path = folder / f"{protocol.replace(' ', '-')}.jsonl"
        arms[f"this program, protocol {protocol}"] = [r for r in Transcript(path).latest().values() if r.user in user_ids]
    rows = {arm: figures(records) for arm, records in arms.items()}
    names = list(arms)
    old, new_old_protocol, new_now = (arms[n] for n in names)
    lines = ["# The session memory in simulated sessions", "",
             f"`python bench/memory_sessions.py`: the {len(cases)} users of bench/results/questions (seed-0 test sample, "
             "development slice), ml-latest-small, attribute simulator, AF-IRS; the first row is that benchmark's "
             "committed transcript (its arm \"after\": the program before issue 31).", "",
             "| arm | " + " | ".join(next(iter(rows.values()))) + " |", "| --- |" + " ---: |" * len(next(iter(rows.values())))]
    lines += [f"| {arm} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()) + " |"
              for arm, row in rows.items()]
    lines += ["", "McNemar, exact (users who succeeded only with the first arm / only with the second, p):", "",
              f"- this program vs the program before issue 31, both under the protocol before issue 32: "
              + "; ".join(f"SR@{t} {mcnemar(new_old_protocol, old, t)}" for t in (1, 3, 5)),
              f"- this program, protocol now vs before issue 32 (the opener's share): "
              + "; ".join(f"SR@{t} {mcnemar(new_now, new_old_protocol, t)}" for t in (1, 3, 5))]
    write_results("memory_sessions", {"users": sorted(user_ids), "arms": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
