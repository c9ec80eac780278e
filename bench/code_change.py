"""A code change measured in simulated sessions: a commit's code ("before") against this checkout's ("after"),
on the same development users, paired by user.

    python bench/code_change.py --before COMMIT --dataset steam [--method afirs] [--n-sessions 40] [--name NAME]
                                [--artifacts-dir artifacts] [--cores 1] [--lm …] [--api-base …]

"before" runs in a worktree of COMMIT with an environment of its own (``evidence_checkout``, as the evidence
runs do); "after" runs this checkout, whose package must hold no uncommitted change, so that both arms are
commits. Each is `afirs-dspy eval` of one method on the first N users of the development slice (never the
evidence users), the attribute simulator, seed 0, up to 5 turns, resumed from
``bench/results/code_change/<name>/{before,after}/``. The report pairs the sessions by user: SR@1/3/5, AT and
LM calls per turn, exact McNemar per SR@t, the sign-flip test of AT and bootstrap intervals. Seconds are not
compared: DSPy's response cache answers the calls the two arms make alike. Writes
``bench/results/code_change/<name>.{md,json}``.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from afirs_dspy.evaluation.metrics import costs, summarize
from afirs_dspy.data import PreparedDataset
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.evaluation.significance import compare
from afirs_dspy.utils.tables import markdown_table
from evidence import REPO, Execute, subprocess_executor
from evidence_checkout import CheckoutError, checkout, resolve, this_checkout
from evidence_runs import read_records
from lm_arguments import add_lm_arguments, option_words
from results_files import RESULTS, write_results

OUT = RESULTS / "code_change"
MAX_TURNS = 5


def eval_arguments(args: argparse.Namespace, folder: Path) -> list[str]:
    return ["eval", "--dataset", args.dataset, "--method", args.method, "--simulator", "attribute",
            "--n-sessions", str(args.n_sessions), "--users", "development", "--seed", "0",
            "--max-turns", str(MAX_TURNS), "--num-threads", "1", "--artifacts-dir", args.artifacts_dir,
            "--out", str(folder), "--resume", "--no-progress",
            *option_words([("--lm", args.lm), ("--api-base", args.api_base)])]


def signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def interval(bounds: Sequence[float] | None) -> str:
    return "–" if bounds is None else f"{signed(bounds[0])} to {signed(bounds[1])}"


def report(name: str, commits: dict[str, str], arms: dict[str, Sequence[SessionRecord]], args: argparse.Namespace) -> str:
    """The paired comparison of the arms' sessions, written to results; returns its markdown."""
    before, after = arms["before"], arms["after"]
    users = {r.user for r in before} & {r.user for r in after}
    paired = {arm: [r for r in records if r.user in users] for arm, records in arms.items()}
    rows = {arm: {"arm": arm, "commit": commits[arm][:7], **summarize(paired[arm], MAX_TURNS),
                  "LM calls/turn": costs(paired[arm])["lm_calls_per_turn"]} for arm in arms}
    test = compare(paired["after"], paired["before"], MAX_TURNS)
    p_at = "–" if test["AT"]["p"] is None else f"{test['AT']['p']:.2g}"
    tests = [{"": t, "b": v["b"], "c": v["c"], "Δ": v["delta"], "p": v["p"]} for t, v in test["mcnemar"].items()]
    lines = [f"# A code change in simulated sessions: {name}", "",
             f"`python bench/code_change.py --before {commits['before'][:7]} --dataset {args.dataset} --method "
             f"{args.method} --n-sessions {args.n_sessions}`: before {commits['before'][:7]}, after "
             f"{commits['after'][:7]}; the first {args.n_sessions} users of {args.dataset}'s development slice, "
             f"attribute simulator, seed 0, up to {MAX_TURNS} turns; {len(users)} users with a session in both arms.", "",
             markdown_table(list(rows.values()), ["arm", "commit", "SR@1", "SR@3", "SR@5", "AT", "LM calls/turn",
                                                  "sessions", "errors"]), "",
             "Paired by user, after against before: b users found by turn t only after the change, c only before; "
             "exact McNemar.", "",
             markdown_table(tests), "",
             f"AT after − before: {signed(test['AT']['delta'])} (95% bootstrap interval "
             f"{interval(test['effect']['AT']['ci'])}, sign-flip p {p_at}); SR@5 after − before: "
             f"{signed(test['mcnemar']['SR@5']['delta'])} ({interval(test['effect']['SR@5']['ci'])})."]
    text = "\n".join(lines)
    write_results(name, {"commits": commits, "dataset": args.dataset, "method": args.method, "users": len(users),
                         "arms": rows, "paired": test}, text, OUT)
    return text


def users(dataset: PreparedDataset, args: argparse.Namespace) -> list[SessionCase]:
    """The users both arms' `eval --users development --seed 0` take."""
    return sample_cases(dataset, "test", args.n_sessions, seed=0, users="development")


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the commit whose code is the 'before' arm (required)")
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--method", default="afirs", help="one method of `afirs-dspy eval --method`")
    parser.add_argument("--n-sessions", type=int, default=40, help="development users (the first N of the slice)")
    parser.add_argument("--name", default=None, help="results name (default: <dataset>-<method>-<before>)")
    parser.add_argument("--artifacts-dir", default="artifacts", help="the artifacts both arms read")
    parser.add_argument("--cores", type=int, default=1, help="cores the runs may use (0: all)")
    add_lm_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, execute: Execute | None = None) -> None:
    args = arguments().parse_args(argv)
    if not args.before:
        raise SystemExit("--before COMMIT is required: the code to measure this checkout against")
    try:
        codes = {"before": checkout(resolve(args.before, REPO), REPO), "after": this_checkout(REPO)}
    except CheckoutError as exc:
        raise SystemExit(f"--before {args.before}: {exc}") from None
    name = args.name or f"{args.dataset}-{args.method}-{codes['before'].commit[:7]}"
    execute = execute or subprocess_executor(args.cores)
    for arm, code in codes.items():
        if execute(code.command(*eval_arguments(args, OUT / name / arm))):
            raise SystemExit(f"the {arm} arm's eval failed; run again to resume it")
    arms = {arm: [r for r in read_records(OUT / name / arm) if r.method == args.method] for arm in codes}
    report(name, {arm: code.commit for arm, code in codes.items()}, arms, args)


if __name__ == "__main__":
    main()
