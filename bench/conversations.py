"""Conversations, not first turns (issue 31): the hand-written multi-turn conversations of
bench/data/conversations.json played by AF-IRS, this code's program against the one before issue 31.

    python bench/conversations.py [--datasets ml-latest-small steam] [--arm after] [--limit N] [--lm …]
    python bench/conversations.py --report-only

Each conversation's user turns are said in order, whatever the program answered (they were written to read
as a reply to a list or a question alike); the program sees the dialogue so far with its own messages (the
items and state it carries; a program without them, its reply's text). Conversation k gets the history of
the k-th validation user of the seed-0 sample (development data; never a test user). The arm "before" is the
program of commit b101f43 (before issue 31), played by this same script from a worktree of that commit:

    git worktree add /tmp/afirs-before b101f43 && cp bench/conversations.py /tmp/afirs-before/bench/
    (cd /tmp/afirs-before && PYTHONPATH=. python bench/conversations.py --arm before --no-report \\
         --artifacts-dir /tmp/afirs-before/artifacts --out $OLDPWD/bench/results)

Transcripts (one line per conversation, bound to the arm's code digest; a run resumes) go to
bench/results/conversations/<dataset>-<arm>.jsonl. The report reads them with this code's catalog (item ids
are the same in both) and writes bench/results/conversations.{md,json}. Per arm and dataset, paired by
conversation, with 95% Clopper-Pearson intervals and exact tests (McNemar on the discordant pairs; Wilcoxon
for seconds): recommend turns that bring back an item rejected earlier (goal 0); conversations whose last
list keeps the aspects in force (goal ≥ 0.8: its items hold on average at least half of the wants in force,
"change" turns replacing them and "drop" taking some back); critiques honoured by the next list (goal
≥ 0.8: years inside the range or later/earlier than the previous list's median year for every item that has
one, no item with an excluded attribute, fewer items with what the previous list shared for "something
different"; a critique no list followed is not honoured); rejection and answer turns on which a preference
in force was lost; LM calls and seconds per turn (DSPy's response cache off: every call reaches the model).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import dspy
from scipy import stats

import afirs_dspy
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.evaluation.usage import metered
from afirs_dspy.lm.backends import LMOptions, LocalEngines
from afirs_dspy.programs.registry import build_program
from lm_arguments import add_lm_arguments

from afirs_dspy.cli.lm_options import open_lm

try:  # the layout of this code, and of the code before issue 35 (the "before" arm's worktree)
    from afirs_dspy.artifacts.context import load_context
except ImportError:
    from afirs_dspy.context import load_context

DATA = Path(__file__).parent / "data" / "conversations.json"
RESULTS = Path(__file__).parent / "results"
TRANSCRIPTS = "conversations"
DATASETS = ("ml-latest-small", "steam")
GOALS = {"repeating turns": 0.0, "last list keeps the wants": 0.8, "critiques honoured": 0.8}
# How the committed transcripts came to be: what a reader needs to weigh the "after" figures.
HISTORY = ("The after arm's program changed twice after its first conversations had been played, each time for a "
           "general rule, each change restarting the arm from scratch, so every after figure is one code's: a critique "
           "gets a list without the LM's decision (879d81f, after 2 of the first 8 ml critiques had been answered "
           "with a question), and 'watch', 'try', 'feel', 'these all feel the same' are no wishes (c1b2311, after 'feel-good' "
           "and 'different' had become preferences). Both arms played all 48 ml-latest-small and 36 Steam "
           "conversations written (the first 40 and 30 first, the rest the same day with the same code); the before "
           "arm from a worktree of b101f43.")
KEEP = 0.5  # a list keeps the wants when its items hold, on average, at least this share of them


def code_digest() -> str:
    """SHA-256 over the installed package's sources: the arm's code (a rerun with other code starts over)."""
    root = Path(afirs_dspy.__file__).resolve().parents[1]
    sha = hashlib.sha256()
    for path in sorted(p for folder in ("afirs_dspy", "programs", "signatures", "recsys") for p in (root / folder).rglob("*.py")):
        sha.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return sha.hexdigest()[:16]


def transcript_path(out: Path, dataset: str, arm: str) -> Path:
    return out / TRANSCRIPTS / f"{dataset}-{arm}.jsonl"


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- playing ----------------------------------------------------------------------------------------------------
def play(program: dspy.Module, conversation: dict, history: list[int]) -> list[dict]:
    """Every user turn said in order; per turn what the program did and what it cost."""
    dialogue: list[dict] = []
    turns = []
    for number, said in enumerate(conversation["turns"], start=1):
        dialogue.append({"role": "user", "content": said["user"]})
        started = time.perf_counter()
        with metered() as usage:
            out = program(dialogue=list(dialogue), history=list(history))
        dialogue.append(dict(out.get("message") or {"role": "assistant", "content": out["reply"]}))
        turns.append({"turn": number, "kind": said["kind"], "action": out["action"], "items": [int(i) for i in out["items"]],
                      "candidates": len(out.get("candidates") or []), "preferences": list(out.get("preferences") or []),
                      "question": out.get("question") or "", "seconds": time.perf_counter() - started,
                      "lm_calls": usage.lm_calls, "prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens})
    return turns


def run_dataset(name: str, arm: str, out: Path, lm: dspy.LM, limit: int | None, artifacts_dir: str | None) -> None:
    conversations = [c for c in json.loads(DATA.read_text())["conversations"] if c["dataset"] == name][:limit]
    dataset = load_dataset(name)
    context = load_context(dataset, artifacts_dir)
    program = build_program("afirs", context)
    cases = sample_cases(dataset, "valid", len(conversations), seed=0)
    path = transcript_path(out, name, arm)
    code = code_digest()
    done = {line["id"] for line in read_lines(path) if line["code"] == code}
    path.parent.mkdir(parents=True, exist_ok=True)
    for conversation, case in zip(conversations, cases):
        if conversation["id"] in done:
            continue
        started = time.perf_counter()
        with dspy.context(lm=lm):
            turns = play(program, conversation, list(case.history))
        line = {"id": conversation["id"], "arm": arm, "code": code, "user": case.user, "turns": turns,
                "seconds": time.perf_counter() - started}
        with path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
        print(f"{name} {arm} {conversation['id']}: {len(turns)} turns, {line['seconds']:.0f} s", flush=True)


# -- judging ----------------------------------------------------------------------------------------------------
class Judge:
    """Reads one conversation's turns against its annotations, with the catalog's attributes and years."""

    def __init__(self, catalog):
        self.catalog = catalog

    def holds(self, item: int, names: Sequence[str]) -> int:
        """How many of ``names`` the item holds (case ignored)."""
        held = {a.casefold() for a in self.catalog.attributes[item]}
        return sum(name.casefold() in held for name in names)

    def median_year(self, items: Sequence[int]) -> float | None:
        years = [self.catalog.years[i] for i in items if self.catalog.years[i] is not None]
        return statistics.median(years) if years else None

    def shared(self, items: Sequence[int], wants: Sequence[str]) -> set[str]:
        """The attributes at least half of ``items`` hold, other than the wants."""
        counts: dict[str, int] = {}
        for item in items:
            for a in {a.casefold() for a in self.catalog.attributes[item]}:
                counts[a] = counts.get(a, 0) + 1
        return {a for a, n in counts.items() if n >= len(items) / 2} - {w.casefold() for w in wants}

    def honoured(self, said: dict, before: list[int], after: list[int], wants: list[str]) -> bool | None:
        """Whether the list ``after`` honours the critique ``said`` made of the list ``before``; None when it
        cannot be judged (a relative wish with no earlier list)."""
        checks = []
        if said.get("exclude"):
            checks.append(all(self.holds(i, said["exclude"]) == 0 for i in after))
        year = said.get("year")
        if isinstance(year, list):
            first, last = year
            checks.append(all((first is None or y >= first) and (last is None or y <= last)
                              for y in (self.catalog.years[i] for i in after) if y is not None))
        elif year in ("later", "earlier"):
            pivot = self.median_year(before)
            if pivot is None:
                return None
            years = [y for y in (self.catalog.years[i] for i in after) if y is not None]
            checks.append(bool(years) and all(y > pivot if year == "later" else y < pivot for y in years))
        if said.get("different"):
            shared = self.shared(before, wants)
            share = lambda items: sum(bool({a.casefold() for a in self.catalog.attributes[i]} & shared) for i in items) / len(items)  # noqa: E731
            checks.append(bool(before) and bool(shared) and share(after) < share(before))
        return all(checks) if checks else None

    def judge(self, conversation: dict, turns: list[dict]) -> dict:
        wants: list[str] = []
        shown: set[int] = set()
        lists: list[list[int]] = []  # the recommendations so far
        repeats = repeat_turns = 0
        critiques: list[bool] = []
        pending: list[tuple[dict, list[int], list[str]]] = []  # critiques waiting for the next list
        lost: list[bool] = []
        previous_preferences: set[str] | None = None
        keep = None
        for said, turn in zip(conversation["turns"], turns):
            if said["kind"] == "change":
                wants = list(said.get("wants", []))
            else:
                wants = [w for w in wants if w not in said.get("drop", [])] + list(said.get("wants", []))
            if said["kind"] == "critique":
                pending.append((said, lists[-1] if lists else [], list(wants)))
            preferences = set(turn["preferences"])
            if previous_preferences is not None and said["kind"] in ("rejection", "answer"):
                lost.append(bool(previous_preferences - preferences))
            previous_preferences = preferences
            if turn["action"] != "recommend":
                continue
            items = turn["items"]
            if lists:
                repeat_turns += bool(shown & set(items))
                repeats += len(shown & set(items))
            for critique, before, in_force in pending:
                verdict = self.honoured(critique, before, items, in_force)
                if verdict is not None:
                    critiques.append(verdict)
            pending = []
            shown |= set(items)
            lists.append(items)
            keep = statistics.mean(self.holds(i, wants) / len(wants) for i in items) if wants else None
        # a critique no list followed was not acted on
        critiques += [False for critique, before, _ in pending if before or not isinstance(critique.get("year"), str)]
        return {"recommend_turns": len(lists), "later_lists": max(len(lists) - 1, 0), "repeat_turns": repeat_turns,
                "repeated_items": repeats, "keep_score": keep, "keeps": keep is not None and keep >= KEEP,
                "critiques": critiques, "lost": lost,
                "lm_calls": [t["lm_calls"] for t in turns], "seconds": [t["seconds"] for t in turns]}


# -- the report -------------------------------------------------------------------------------------------------
def rate(successes: int, n: int) -> dict:
    if n == 0:
        return {"rate": None, "n": 0, "ci": None}
    low, high = stats.binomtest(successes, n).proportion_ci(0.95)
    return {"rate": successes / n, "k": successes, "n": n, "ci": [round(low, 3), round(high, 3)]}


def mcnemar(pairs: list[tuple[bool, bool]]) -> dict:
    """Exact McNemar test of paired booleans (after, before): the discordant pairs under a fair coin."""
    b = sum(after and not before for after, before in pairs)
    c = sum(before and not after for after, before in pairs)
    return {"after_only": b, "before_only": c, "p": stats.binomtest(b, b + c).pvalue if b + c else 1.0}


def summarise(judged: dict[str, dict]) -> dict:
    rows = list(judged.values())
    repeat_lists = sum(r["later_lists"] for r in rows)
    critiques = [c for r in rows for c in r["critiques"]]
    lost = [x for r in rows for x in r["lost"]]
    turns_calls = [c for r in rows for c in r["lm_calls"]]
    seconds = [s for r in rows for s in r["seconds"]]
    return {
        "conversations": len(rows),
        "repeating turns": rate(sum(r["repeat_turns"] for r in rows), repeat_lists),
        "repeated items": sum(r["repeated_items"] for r in rows),
        "conversations with a repeat": rate(sum(r["repeat_turns"] > 0 for r in rows), len(rows)),
        "last list keeps the wants": rate(sum(r["keeps"] for r in rows), len(rows)),
        "critiques honoured": rate(sum(critiques), len(critiques)),
        "turns losing a preference": rate(sum(lost), len(lost)),
        "LM calls per turn": statistics.mean(turns_calls) if turns_calls else None,
        "seconds per turn (median)": statistics.median(seconds) if seconds else None,
        "seconds per turn (p90)": statistics.quantiles(seconds, n=10)[-1] if len(seconds) > 1 else None,
    }


def paired(after: dict[str, dict], before: dict[str, dict]) -> dict:
    common = sorted(set(after) & set(before))
    tests = {
        "conversations with a repeat": mcnemar([(after[i]["repeat_turns"] > 0, before[i]["repeat_turns"] > 0) for i in common]),
        "last list keeps the wants": mcnemar([(after[i]["keeps"], before[i]["keeps"]) for i in common]),
    }
    critiques = [(a, b) for i in common for a, b in zip(after[i]["critiques"], before[i]["critiques"])]
    tests["critiques honoured"] = mcnemar(critiques)
    lost = [(a, b) for i in common for a, b in zip(after[i]["lost"], before[i]["lost"])]
    tests["turns losing a preference"] = mcnemar(lost)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    differences = [mean(after[i]["seconds"]) - mean(before[i]["seconds"]) for i in common]
    tests["seconds per turn"] = ({"p": stats.wilcoxon(differences).pvalue, "median_difference": statistics.median(differences)}
                                 if any(differences) else None)
    return {"conversations": len(common), **tests}


def fmt(cell) -> str:
    if isinstance(cell, dict) and "rate" in cell:
        return "–" if cell["rate"] is None else f"{cell['rate']:.2f} ({cell['k']}/{cell['n']}; {cell['ci'][0]:.2f}–{cell['ci'][1]:.2f})"
    if isinstance(cell, float):
        return f"{cell:.2f}"
    return "–" if cell is None else str(cell)


def report(out: Path) -> None:
    from afirs_dspy.domain.catalog import Catalog

    conversations = json.loads(DATA.read_text())["conversations"]
    payload, lines = {}, ["# Conversations, not first turns (issue 31)", "",
                          "`python bench/conversations.py`: the hand-written conversations of bench/data/conversations.json "
                          "(written before any tuning), each user turn said in order whatever the program answered; "
                          "conversation k has the history of the k-th seed-0 validation user. Rates with 95% "
                          "Clopper-Pearson intervals; paired exact tests of after against before (McNemar: the "
                          "discordant conversations, critiques or turns; Wilcoxon: seconds per turn). Goals: "
                          + ", ".join(f"{k} {'=' if v == 0 else '≥'} {v:g}" for k, v in GOALS.items()) + ".", "",
                          HISTORY, ""]
    for name in DATASETS:
        judge = Judge(Catalog(load_dataset(name).items))
        by_id = {c["id"]: c for c in conversations if c["dataset"] == name}
        arms, codes = {}, {}
        for path in sorted((out / TRANSCRIPTS).glob(f"{name}-*.jsonl")):
            arm = path.stem.removeprefix(f"{name}-")
            latest = {line["id"]: line for line in read_lines(path)}  # the last line of a conversation counts
            arms[arm] = {i: judge.judge(by_id[i], line["turns"]) for i, line in latest.items() if i in by_id}
            codes[arm] = ", ".join(sorted({line["code"] for line in latest.values()}))
        if not arms:
            continue
        summaries = {arm: {**summarise(judged), "code": codes[arm]} for arm, judged in arms.items()}
        payload[name] = {"summaries": summaries}
        keys = list(next(iter(summaries.values())))
        lines += [f"## {name}", "", "| measure | " + " | ".join(summaries) + " |", "| --- |" + " --- |" * len(summaries)]
        lines += [f"| {key} | " + " | ".join(fmt(s[key]) for s in summaries.values()) + " |" for key in keys]
        if {"after", "before"} <= set(arms):
            tests = paired(arms["after"], arms["before"])
            payload[name]["paired"] = tests
            lines += ["", f"Paired, after vs before, on {tests['conversations']} conversations:", ""]
            for key, test in tests.items():
                if isinstance(test, dict) and "after_only" in test:
                    lines.append(f"- {key}: only after {test['after_only']}, only before {test['before_only']}, "
                                 f"p = {test['p']:.3g}")
                elif isinstance(test, dict):
                    lines.append(f"- {key}: median difference {test['median_difference']:+.1f} s, p = {test['p']:.3g}")
        lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    (out / "conversations.json").write_text(json.dumps(payload, indent=1) + "\n")
    (out / "conversations.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--arm", default="after", help="The label of the code that plays (after: this code).")
    parser.add_argument("--limit", type=int, default=None, help="At most this many conversations per dataset.")
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--no-report", action="store_true", help="Play only (the report needs this code).")
    add_lm_arguments(parser)
    args = parser.parse_args()
    if not args.report_only:
        with LocalEngines() as engines:
            # DSPy's response cache off: every call reaches the model, seconds per turn are what a fresh turn costs
            lm = open_lm(args.lm, args.api_base, engines, options=LMOptions(cache=False))
            for name in args.datasets:
                run_dataset(name, args.arm, args.out, lm, args.limit, args.artifacts_dir)
    if not args.no_report:
        report(args.out)


if __name__ == "__main__":
    main()
