"""Questions that move the conversation forward (issue 22): AF-IRS with and without question memory.

    python bench/questions.py [--dataset ml-latest-small] [--n-sessions 30] [--minutes 30] [--lm …]
                              [--api-base …] [--seed 0] [--num-threads 1] [--report-only]

One evaluation run (``EvalRun``), the same seeded test users of the development slice and the attribute
simulator for two arms of `afirs`:
"before" (``question_memory=False``: the question's aspect is the best split of the candidates alone,
nothing the user said or the program asked is left out, the extraction keeps one node per level) and
"after" (the default). Users are taken in the seed's order until --n-sessions or --minutes (the user
started by then finishes both arms); resumable: the run under bench/results/questions/ keeps the
sessions, and running again with the same code adds users (other code is refused: --report-only tables
what the transcript holds).

Per arm, over every question asked (a question's aspect is read back from its text, as the program
itself does): the repeated-question rate (its aspect, or its exact text, was asked earlier in the
session), the share about an aspect the user had already named an option of, the share with no
recognisable aspect, the expected information gain of the asked aspect vs the best aspect still
open (bits, over the turn's candidates), the candidates expected to be left by the answer, and the
candidates left once the user's actual answer is applied (those holding every option it names).
Then SR@1/3/5, AT and LM seconds per turn, with paired tests of after against before.
Writes bench/results/questions.{md,json}.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from afirs_dspy.domain.candidate_distribution import split_aspects
from afirs_dspy.artifacts.context import load_context
from afirs_dspy.domain.conversation_facts import asked_aspects, aspect_of, option_names, read_conversation
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.eval_run import EvalRun, EvalSettings
from afirs_dspy.evaluation.metrics import ok, summarize
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.runner import complete_users
from afirs_dspy.evaluation.significance import compare
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from afirs_dspy.utils.tables import markdown_table
from lm_arguments import add_lm_arguments, lm_settings
from results_files import RESULTS, write_results

ARMS = {"before": AFIRSConfig(question_memory=False), "after": AFIRSConfig()}
MAX_TURNS = 5


def dialogue_before(record: SessionRecord, turn: int) -> list[dict]:
    """What the program saw at ``turn`` (1-based): the opener, then each earlier reply and answer."""
    dialogue = [{"role": "user", "content": record.opener}]
    for t in record.turns[: turn - 1]:
        dialogue += [{"role": "assistant", "content": t.reply}, {"role": "user", "content": t.user_reply or ""}]
    return dialogue


def question_rows(record: SessionRecord, tree: PreferenceTree) -> list[dict]:
    """One row per question the session asked (see the module doc for each figure)."""
    names = option_names(tree)
    rows, earlier = [], []
    for t in record.turns:
        if t.action != "ask":
            continue
        facts = read_conversation(tree, dialogue_before(record, t.turn))
        asked = asked_aspects(tree, t.question)
        stated = {aspect_of(tree, node) for node in facts.stated}
        open_aspects = split_aspects(tree, t.candidates, top=len(tree.nodes), exclude_aspects=facts.asked | stated,
                                     exclude_options=facts.stated | facts.rejected)
        gain = {a.id: a for a in open_aspects}
        chosen = [gain[a] for a in asked if a in gain]
        answer = [node for node, negated in names.find(t.user_reply or "") if not negated]
        holds = np.ones(len(t.candidates), dtype=bool)
        for node in answer:
            holds &= np.isin(t.candidates, tree.node_items(node))
        rows.append({
            "repeated": bool(asked & facts.asked) or t.question in earlier,
            "stated": bool(asked & stated),
            "unread": not asked,
            "bits": max((a.bits for a in chosen), default=0.0) if asked else None,
            "best_bits": open_aspects[0].bits if open_aspects else 0.0,
            "expected_left": min((a.expected_left for a in chosen), default=len(t.candidates)) if asked else None,
            "candidates": len(t.candidates),
            "left": int(holds.sum()) if t.user_reply is not None else None,
        })
        earlier.append(t.question)
    return rows


def _share(rows: list[dict], key: str) -> float | None:
    return sum(r[key] for r in rows) / len(rows) if rows else None


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.fmean(values)) if values else None


def arm_figures(records: list[SessionRecord], tree: PreferenceTree) -> dict:
    rows = [row for r in ok(records) for row in question_rows(r, tree)]
    read = [r for r in rows if not r["unread"]]
    turns = [t for r in ok(records) for t in r.turns]
    return {
        **summarize(records, MAX_TURNS),
        "turns": len(turns),
        "questions": len(rows),
        "repeated_rate": _share(rows, "repeated"),
        "stated_share": _share(rows, "stated"),
        "unread_share": _share(rows, "unread"),
        "bits_asked": _mean([r["bits"] for r in read]),
        "bits_best_open": _mean([r["best_bits"] for r in read]),
        "asked_best_share": _share([{"b": r["bits"] >= r["best_bits"] - 1e-9} for r in read if r["best_bits"] > 0], "b"),
        "expected_left_median": _median([r["expected_left"] for r in read]),
        "candidates_median": _median([r["candidates"] for r in rows]),
        "left_after_answer_median": _median([r["left"] for r in rows]),
        "lm_seconds_per_turn": _mean([t.program_usage.seconds for t in turns]),
    }


def evaluation(args, folder: Path, dataset) -> EvalRun:
    """Both arms on the development slice's test users, added to the run in ``folder``."""
    settings = EvalSettings(methods=tuple(ARMS), users="development", n_sessions=args.n_sessions, seed=args.seed,
                            num_threads=args.num_threads, max_turns=MAX_TURNS, out=str(folder),
                            time_limit=args.minutes, resume=True, baseline="before", **lm_settings(args))
    builders = {arm: lambda context, sizes, config=config: build_program("afirs", context, config)
                for arm, config in ARMS.items()}
    return EvalRun(settings, dataset, builders)


def users(dataset, args) -> list:
    """The test users the run takes, in its order."""
    return evaluation(args, RESULTS, dataset).cases(set())


def paired_line(paired: dict) -> str:
    """After vs before on the same users: McNemar at SR@1/3/5 (b: only after succeeded, c: only before), sign-flip on AT."""
    tests = [f"SR@{t} b/c {m['b']}/{m['c']} (Δ {_fmt(m['delta'])}, p {_fmt(m['p'])})"
             for t, m in ((k[3:], v) for k, v in paired["mcnemar"].items())]
    at = paired["AT"]
    return (f"Paired, after vs before on {paired['pairs']} users: McNemar {'; '.join(tests)}; "
            f"AT Δ {_fmt(at['delta'])} (sign-flip p {_fmt(at['p'])}).")


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3g}"


def report(folder: Path, context, args, seconds: float) -> None:
    latest = Transcript(folder / TRANSCRIPT).latest()
    by_arm = complete_users({arm: [r for (method, _), r in latest.items() if method == arm] for arm in ARMS})
    figures = {arm: arm_figures(by_arm[arm], context.tree) for arm in ARMS}
    paired = compare(by_arm["after"], by_arm["before"], MAX_TURNS)
    columns = ["sessions", "turns", "questions", "repeated_rate", "stated_share", "unread_share", "bits_asked",
               "bits_best_open", "asked_best_share", "expected_left_median", "candidates_median",
               "left_after_answer_median", "SR@1", "SR@3", "SR@5", "AT", "lm_seconds_per_turn"]
    table = markdown_table([{"figure": c, **{arm: figures[arm][c] for arm in ARMS}} for c in columns], ["figure", *ARMS])
    settings = (f"{context.dataset.name}, the development slice's test users in seed {args.seed}'s order, attribute simulator, "
                f"≤ {MAX_TURNS} turns, LM {args.lm or 'embedded (local)'}; this run: {seconds / 60:.0f} min")
    text = "\n".join([
        "# Questions: AF-IRS before/after question memory (issue 22)", "", settings, "", table, "",
        paired_line(paired),
        "", "Columns: see bench/questions.py. bits: expected information gain over the turn's candidates "
        "(aspects asked or stated earlier count as 0: the answer is known); left: candidates holding every "
        "option the user's answer names. lm_seconds_per_turn: DSPy's response cache is on, so an arm sending a prompt "
        "the other already sent pays nothing; it is not a cost comparison (bench/turn_cost.py is).",
    ])
    write_results("questions", {"settings": vars(args), "minutes": seconds / 60, "arms": figures, "paired": paired},
                  text)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--n-sessions", type=int, default=30,
                        help="Test users of the development slice (each gets both arms).")
    parser.add_argument("--minutes", type=float, default=30, help="Start no new user after this long.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--report-only", action="store_true", help="Table what the transcript holds; run nothing.")
    add_lm_arguments(parser)
    return parser


def main() -> None:
    args = arguments().parse_args()
    context = load_context(load_dataset(args.dataset))
    folder = RESULTS / "questions" / f"{args.dataset}-seed{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not args.report_only:
        evaluation(args, folder, context.dataset).run()
    report(folder, context, args, time.perf_counter() - started)


if __name__ == "__main__":
    main()
