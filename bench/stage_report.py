"""The tables of bench/stages.py, rebuilt from its transcripts alone (bench/results/stages/*.jsonl).

Each transcript may hold lines of several code versions; per arm, the version of its newest line is
reported and older lines are counted as stale. Every figure has a 95% interval: shares the exact
(Clopper-Pearson) binomial interval (``scipy.stats.binomtest(...).proportion_ci``), means and pooled
ratios a percentile bootstrap over cases (``scipy.stats.bootstrap``, seeded). Paired differences (after
− before on the same cases, or two lists of one arm on the same cases) give the mean difference with a
bootstrap interval and the exact paired test of afirs_dspy.evaluation.significance: McNemar's exact test
for yes/no figures, the sign-flip permutation test for numbers.

Summary phrases are compared by normalised token overlap: both phrases become sets of content words
(lower case, singular as ``conversation_facts.words`` reads them, without STOP_WORDS and negations); two
words are the same when equal or sharing a stem (``words_match``); two phrases match when at least half of
the smaller set's words are in the other (so "zombie comedies" matches "zombies" and "not horror" matches
"horror films", while "slow pacing" does not match "fast action"). Precision: predicted phrases matching some expected phrase of the same field; recall: expected
phrases matched by some predicted phrase; both pooled over dialogues. A phrase is grounded when one of
its content words is (by ``words_match``) a word the user said. A predicted constraint that matches no
expected constraint is invented when it is not grounded (e.g. "released after 2010", the old field
description's example), misplaced when it is (e.g. "not a musical", a dislike); a predicted like or
dislike that is not grounded is counted as ungrounded (a paraphrase can be, so that is a pointer, not
an error count).
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from afirs_dspy.text.user_words import NEGATIONS, words
from afirs_dspy.evaluation.significance import mcnemar_exact, sign_flip_test
from afirs_dspy.utils.jsonl_file import read_lines
from afirs_dspy.utils.tables import markdown_table
from results_files import write_results

RESAMPLES = 2000
STOP_WORDS = frozenset({
    "a", "an", "the", "and", "or", "of", "with", "some", "something", "that", "this", "is", "it", "to", "in", "on",
    "for", "very", "really", "too", "kind", "sort", "movie", "film", "game", "one", "thing", "stuff", "lot", "don",
    "i", "me", "my", "want", "like", "would", "be", "more", "much", "any", "anything", "please", "which", "about",
})


# --- figures with intervals -------------------------------------------------------------------------

def _bootstrap(data: Sequence[np.ndarray], statistic: Callable) -> list[float] | None:
    """Percentile 95% interval of ``statistic(*data)`` resampling cases (the arrays are paired)."""
    if len(data[0]) < 2:
        return None
    result = stats.bootstrap(tuple(data), statistic, paired=True, vectorized=False, n_resamples=RESAMPLES,
                             method="percentile", rng=np.random.default_rng(0))
    low, high = result.confidence_interval
    point = float(statistic(*data))
    # Every resample equal (e.g. all cases alike): scipy gives NaN; the interval is the point.
    return [point, point] if np.isnan(low) or np.isnan(high) else [float(low), float(high)]


def share(flags: Sequence[bool]) -> dict | None:
    if not flags:
        return None
    k, n = int(sum(flags)), len(flags)
    ci = stats.binomtest(k, n).proportion_ci(0.95)
    return {"value": k / n, "ci95": [float(ci.low), float(ci.high)], "n": n}


def mean(values: Sequence[float]) -> dict | None:
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    return {"value": float(data.mean()), "ci95": _bootstrap([data], np.mean), "n": len(data)}


def ratio(numerators: Sequence[int], denominators: Sequence[int]) -> dict | None:
    """Pooled sum(num) / sum(den) over cases; cases with den 0 hold no phrase and are left out (num is 0)."""
    kept = [(a, b) for a, b in zip(numerators, denominators) if b]
    if not kept:
        return None
    num, den = (np.asarray(x, dtype=float) for x in zip(*kept))
    return {"value": float(num.sum() / den.sum()), "ci95": _bootstrap([num, den], lambda a, b: a.sum() / b.sum()),
            "n": len(kept)}


def paired(a: dict, b: dict, binary: bool) -> dict | None:
    """``a`` − ``b`` on the cases both have (case → value): mean difference, bootstrap interval, exact test."""
    common = [c for c in a if c in b]
    if not common:
        return None
    x = np.array([float(a[c]) for c in common])
    y = np.array([float(b[c]) for c in common])
    diff = x - y
    if binary:
        p, test = mcnemar_exact(int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())), "exact McNemar"
    else:
        # One pair: both sign assignments are as extreme, p = 1 (scipy wants two or more).
        p, test = (sign_flip_test(x, y)["p"] if len(common) > 1 else 1.0), "sign-flip"
    return {"delta": float(diff.mean()), "ci95": _bootstrap([diff], np.mean), "p": p, "n": len(common), "test": test}


def cell(figure: dict | None, digits: int = 3) -> str:
    if figure is None:
        return "–"
    if "delta" in figure:
        ci = figure["ci95"]
        interval = f" [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]" if ci else ""
        p = f", p {figure['p']:.3g}" if figure.get("p") is not None else ""
        return f"{figure['delta']:+.{digits}f}{interval}{p} (n {figure['n']})"
    ci = figure.get("ci95")
    interval = f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else ""
    return f"{figure['value']:.{digits}f}{interval} (n {figure['n']})"


# --- transcripts --------------------------------------------------------------------------------------

def current_lines(path: Path, seed: int) -> tuple[dict, int]:
    """{stage: {arm: {(case, turn): line}}} of each arm's newest version, and the number of stale lines."""
    lines = [line for line in read_lines(path) if line.get("seed") == seed]
    newest = {line["arm"]: line["version"] for line in lines}
    by: dict = defaultdict(lambda: defaultdict(dict))
    for line in lines:
        if line["version"] == newest[line["arm"]]:
            by[line["stage"]][line["arm"]][(line["case"], line["turn"])] = line
    kept = sum(len(x) for arms in by.values() for x in arms.values())
    return by, len(lines) - kept


def _field(lines: dict, key: Callable[[dict], float], turn: int | None = 1) -> dict:
    """case → key(line) for the lines of ``turn`` (all turns for None, keyed by (case, turn)); None values left out."""
    if turn is None:
        values = {ct: key(line) for ct, line in lines.items()}
    else:
        values = {case: key(line) for (case, t), line in lines.items() if t == turn}
    return {case: value for case, value in values.items() if value is not None}


def uncached_seconds(line: dict) -> float | None:
    """The line's seconds when every LM call reached the model (None when DSPy's cache answered some)."""
    usage = line["usage"]
    return usage["seconds"] if usage["model_calls"] == usage["lm_calls"] else None


class Table:
    """Rows of one stage: per arm a figure, and a paired after − before difference."""

    def __init__(self, arms: Sequence[str]):
        self.arms = list(arms)
        self.rows: list[dict] = []

    def add(self, name: str, per_arm: dict, delta: dict | None = None) -> None:
        self.rows.append({"figure": name, **{arm: per_arm.get(arm) for arm in self.arms},
                          "after − before": delta})

    def markdown(self) -> str:
        rows = [{k: (cell(v) if isinstance(v, dict) else v if v is not None else "–") for k, v in row.items()}
                for row in self.rows]
        return markdown_table(rows, ["figure", *self.arms, "after − before"])


def _cross(arms: Sequence[str], per_arm_values: dict, binary: bool) -> dict | None:
    """after − before when both arms exist."""
    if not {"before", "after"} <= set(arms):
        return None
    return paired(per_arm_values["after"], per_arm_values["before"], binary)


def _table(arms, lines_by_arm: dict, rows: list[tuple]) -> Table:
    """Each row: (name, kind, key, turn) with kind share|mean; the Δ column pairs the arms by case."""
    table = Table(arms)
    for name, kind, key, turn in rows:
        values = {arm: _field(lines_by_arm.get(arm, {}), key, turn) for arm in arms}
        per_arm = {arm: (share if kind == "share" else mean)(list(values[arm].values())) for arm in arms}
        table.add(name, per_arm, _cross(arms, values, kind == "share"))
    return table


def _within(arms, lines_by_arm: dict, name: str, a: Callable, b: Callable, binary: bool, table: Table,
            turn: int = 1) -> None:
    """A row of per-arm paired differences between two figures of the same cases (no Δ across arms)."""
    per_arm = {arm: paired(_field(lines_by_arm.get(arm, {}), a, turn), _field(lines_by_arm.get(arm, {}), b, turn),
                           binary) for arm in arms}
    table.add(name, per_arm)


def extraction_table(arms, by: dict) -> Table:
    lines = by.get("extraction", {})
    return _table(arms, lines, [
        ("hit share, turn 1 (≥ 1 spoken attribute on the preferences' paths)", "share", lambda l: l["hit"], 1),
        ("hit share, turn 2", "share", lambda l: l["hit"], 2),
        ("preferences per extraction, turn 1", "mean", lambda l: l["n_preferences"], 1),
        ("preferences per extraction, turn 2", "mean", lambda l: l["n_preferences"], 2),
        ("LM calls per extraction, turn 1", "mean", lambda l: l["usage"]["lm_calls"], 1),
        ("seconds per extraction, turn 1 (uncached)", "mean", uncached_seconds, 1),
    ])


def candidates_table(arms, by: dict) -> Table:
    lines = by.get("candidates", {})
    table = _table(arms, lines, [
        ("HR@50 of the tool's 50, turn 1", "share", lambda l: l["hit"], 1),
        ("HR@50 of the tool's 50, turn 2", "share", lambda l: l["hit"], 2),
        ("HR@50 plain SASRec (no preferences), turn 1", "share", lambda l: l["sasrec_hit"], 1),
        ("HR@50 plain SASRec, turn 2", "share", lambda l: l["sasrec_hit"], 2),
        ("HR@50 attribute hard filter + SASRec, turn 1", "share", lambda l: l["filter_hit"], 1),
        ("HR@50 attribute hard filter + SASRec, turn 2", "share", lambda l: l["filter_hit"], 2),
    ])
    for turn in (1, 2):
        _within(arms, lines, f"tool − plain SASRec, turn {turn}", lambda l: l["hit"], lambda l: l["sasrec_hit"],
                True, table, turn)
        _within(arms, lines, f"tool − attribute filter, turn {turn}", lambda l: l["hit"], lambda l: l["filter_hit"],
                True, table, turn)
    ratio_row = {}
    for arm in arms:
        tool = share(list(_field(lines.get(arm, {}), lambda l: l["hit"]).values()))
        plain = share(list(_field(lines.get(arm, {}), lambda l: l["sasrec_hit"]).values()))
        ratio_row[arm] = (f"{tool['value'] / plain['value']:.2f}×" if tool and plain and plain["value"] else None)
    table.add("turn-1 HR@50, tool ÷ plain SASRec (goal ≥ 2×)", ratio_row)
    return table


def _inside(key: Callable[[dict], float]) -> Callable[[dict], float | None]:
    """``key`` on the refinement lines whose target was among the candidates (the refinement ran), else None."""
    return lambda line: key(line) if line["in_candidates"] else None


def refinement_table(arms, by: dict) -> Table:
    lines = by.get("refinement", {})
    table = _table(arms, lines, [
        ("HR@10 of the refined 10 (target among the 50, turn 1)", "share", _inside(lambda l: l["hit"]), 1),
        ("HR@10 of the tool's top 10, same cases", "share", _inside(lambda l: l["tool_hit"]), 1),
        ("refined 10 = the tool's top 10, same cases", "share", _inside(lambda l: l["tool_order"]), 1),
        ("LM answers that were their input order (of the LM calls answered)", "share",
         lambda l: l["input_order"] if l["in_candidates"] and l["lm_answered"] else None, 1),
        ("LM calls per refinement", "mean", _inside(lambda l: l["refine_usage"]["lm_calls"]), 1),
        ("seconds per refinement (uncached)", "mean", _inside(lambda l: uncached_seconds({"usage": l["refine_usage"]})), 1),
        ("seconds per summary of the case (uncached)", "mean",
         lambda l: uncached_seconds(l) if not l["in_candidates"] else None, 1),
        ("HR@10 of the turn's 10 over all cases, turn 1", "share", lambda l: l["hit"], 1),
    ])
    _within(arms, lines, "refined − tool's top 10", _inside(lambda l: l["hit"]), _inside(lambda l: l["tool_hit"]),
            True, table)
    return table


def decision_table(arms, by: dict, thresholds: dict) -> Table:
    lines = by.get("decision", {})
    correct = lambda l: (l["action"] == "recommend") == l["label"]  # noqa: E731
    table = _table(arms, lines, [
        ("label share (target in the 10 shown)", "share", lambda l: l["label"], 1),
        ("DecideAction: recommend share", "share", lambda l: l["action"] == "recommend", 1),
        ("DecideAction: accuracy", "share", correct, 1),
        ("always recommend: accuracy", "share", lambda l: l["label"], 1),
        ("always ask: accuracy", "share", lambda l: not l["label"], 1),
        ("LM calls per decision", "mean", lambda l: l["usage"]["lm_calls"], 1),
        ("seconds per decision (uncached)", "mean", uncached_seconds, 1),
    ])
    policy = {arm: _field(lines.get(arm, {}), lambda l, x=thresholds.get(arm): (l["match_share"] >= x) == l["label"])
              for arm in arms if thresholds.get(arm) is not None}
    table.add("recommend iff match share ≥ x: accuracy", {arm: share(list(v.values())) for arm, v in policy.items()})
    table.add("x (chosen on validation users)", {arm: thresholds.get(arm) for arm in arms})
    for name, other in (("always recommend", lambda l: l["label"]), ("always ask", lambda l: not l["label"])):
        _within(arms, lines, f"DecideAction − {name}", correct, other, True, table)
    table.add("DecideAction − match-share policy",
              {arm: paired(_field(lines.get(arm, {}), correct), policy[arm], True) for arm in policy})
    return table


def best_threshold(lines: dict) -> float | None:
    """The match-share threshold with the highest accuracy on these (validation) decisions; ties: the lowest."""
    cases = list(lines.values())
    if not cases:
        return None
    candidates = sorted({l["match_share"] for l in cases} | {1.01})
    accuracy = [sum((l["match_share"] >= x) == l["label"] for l in cases) for x in candidates]
    return float(candidates[int(np.argmax(accuracy))])


# --- summary ------------------------------------------------------------------------------------------

def content_words(phrase: str) -> frozenset[str]:
    return frozenset(w for w in words(phrase) if w not in STOP_WORDS and w not in NEGATIONS)


def words_match(a: str, b: str) -> bool:
    """Equal, or the same stem: a common prefix of at least 4 letters and all but 2 of the shorter word
    ("zomby"/"zombie", "romance"/"romantic"; not "fun"/"funny")."""
    if a == b:
        return True
    common = len(os.path.commonprefix([a, b]))
    return common >= max(4, min(len(a), len(b)) - 2)


def phrases_match(a: str, b: str) -> bool:
    x, y = content_words(a), content_words(b)
    shared = sum(any(words_match(u, v) for v in y) for u in x)
    return bool(x and y) and 2 * shared >= min(len(x), len(y))


def score_summary(line: dict) -> dict:
    predicted, expected = line["predicted"], line["expected"]
    said = frozenset().union(*(content_words(t["content"]) for t in line["dialogue"] if t["role"] == "user"))
    score = {}
    for kind in ("likes", "dislikes"):
        pred, exp = predicted.get(kind, []), expected[kind]
        score[kind] = {"pred_matched": sum(any(phrases_match(p, e) for e in exp) for p in pred), "pred": len(pred),
                       "exp_matched": sum(any(phrases_match(e, p) for p in pred) for e in exp), "exp": len(exp)}
    def grounded(phrase: str) -> bool:
        return any(words_match(w, v) for w in content_words(phrase) for v in said)

    unexpected = [c for c in predicted.get("constraints", []) if not any(phrases_match(c, e) for e in expected["constraints"])]
    score["invented_constraints"] = sum(not grounded(c) for c in unexpected)
    score["misplaced_constraints"] = sum(grounded(c) for c in unexpected)
    score["ungrounded"] = sum(not grounded(p) for k in ("likes", "dislikes") for p in predicted.get(k, []))
    pm = sum(score[k]["pred_matched"] for k in ("likes", "dislikes"))
    pn = sum(score[k]["pred"] for k in ("likes", "dislikes"))
    em = sum(score[k]["exp_matched"] for k in ("likes", "dislikes"))
    en = sum(score[k]["exp"] for k in ("likes", "dislikes"))
    precision, recall = (pm / pn if pn else float(en == 0)), (em / en if en else float(pn == 0))
    score["f1"] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return score


def summary_table(arms, by: dict) -> Table:
    scores = {arm: {case: score_summary(line) for (case, _), line in by.get("summary", {}).get(arm, {}).items()}
              for arm in arms}
    table = Table(arms)
    for kind in ("likes", "dislikes"):
        for name, num, den in (("precision", "pred_matched", "pred"), ("recall", "exp_matched", "exp")):
            per_arm = {arm: ratio([s[kind][num] for s in scores[arm].values()], [s[kind][den] for s in scores[arm].values()])
                       for arm in arms}
            table.add(f"{kind} {name}", per_arm)
    table.add("F1 of likes + dislikes per dialogue", {arm: mean([s["f1"] for s in scores[arm].values()]) for arm in arms},
              _cross(arms, {arm: {c: s["f1"] for c, s in scores[arm].items()} for arm in arms}, False))
    table.add("invented constraints (must be 0)", {arm: sum(s["invented_constraints"] for s in scores[arm].values())
                                                   if scores[arm] else None for arm in arms})
    table.add("unexpected constraints in the user's words (misplaced wishes)",
              {arm: sum(s["misplaced_constraints"] for s in scores[arm].values()) if scores[arm] else None for arm in arms})
    table.add("dialogues with an invented constraint", {arm: share([s["invented_constraints"] > 0
                                                                    for s in scores[arm].values()]) for arm in arms})
    table.add("ungrounded likes/dislikes (no word the user said)",
              {arm: sum(s["ungrounded"] for s in scores[arm].values()) if scores[arm] else None for arm in arms})
    lines = by.get("summary", {})
    table.add("LM calls per summary", {arm: mean([l["usage"]["lm_calls"] for l in lines.get(arm, {}).values()])
                                       for arm in arms})
    table.add("seconds per summary (uncached)", {arm: mean(list(_field(lines.get(arm, {}), uncached_seconds).values()))
                                                 for arm in arms})
    return table


# --- the report ---------------------------------------------------------------------------------------

def _payload(table: Table) -> list[dict]:
    return table.rows


def dataset_report(out: Path, dataset: str, seed: int, arms: Sequence[str]) -> tuple[str, dict]:
    folder = out / "stages"
    test, stale = current_lines(folder / f"{dataset}-test.jsonl", seed)
    valid, _ = current_lines(folder / f"{dataset}-valid.jsonl", seed)
    summary, stale_summary = current_lines(folder / f"{dataset}-summary.jsonl", seed)
    test = {**test, **summary}
    # x comes from validation decisions of the same arm version as the test lines reported.
    versions = {arm: next(iter(test.get("decision", {}).get(arm, {}).values()), {}).get("version") for arm in arms}
    thresholds = {arm: best_threshold({k: l for k, l in valid.get("decision", {}).get(arm, {}).items()
                                       if l["version"] == versions[arm]}) for arm in arms}
    tables = {"extraction": extraction_table(arms, test), "candidates": candidates_table(arms, test),
              "refinement": refinement_table(arms, test), "decision": decision_table(arms, test, thresholds),
              "summary": summary_table(arms, test)}
    reached = [{"stage": stage, **{arm: len(test.get(stage, {}).get(arm, {})) for arm in arms}}
               for stage in tables]
    parts = [f"## {dataset}", "",
             f"Lines reported per stage and arm (test users; extraction and candidates count turns 1 and 2; "
             f"summary counts dialogues). Stale lines of older code or settings, not reported: {stale + stale_summary}.",
             "", markdown_table(reached, ["stage", *arms]), ""]
    for stage, table in tables.items():
        parts += [f"### {stage}", "", table.markdown(), ""]
    return "\n".join(parts), {"reached": reached, "stale": stale + stale_summary, "thresholds": thresholds,
                              "tables": {stage: _payload(t) for stage, t in tables.items()}}


def write_report(out: Path, datasets: Sequence[str], seed: int, settings: dict, name: str = "stages") -> None:
    arms = list(settings["arms"])
    texts, payload = [], {"seed": seed, "settings": settings, "datasets": {}}
    for dataset in datasets:
        text, payload["datasets"][dataset] = dataset_report(out, dataset, seed, arms)
        texts.append(text)
    arm_lines = "; ".join(f"{arm} = AFIRSConfig({', '.join(f'{k}={v!r}' for k, v in kw.items())})"
                          for arm, kw in settings["arms"].items())
    header = [
        "# Stage benchmarks (issue 15): each stage of an AF-IRS turn on its own, before vs after", "",
        f"`python bench/stages.py`, seed {seed}, LM {settings['lm']}. Arms: {arm_lines}.",
        "Cases: test users in the evaluation's seeded order; turn 1 = the attribute simulator's opener, turn 2 adds",
        "the generic question and the simulator's answer. Cells: value [95% interval] (n); after − before: mean paired",
        "difference [95% bootstrap interval], exact paired p (McNemar for yes/no, sign-flip for numbers) on the cases",
        "both arms have. Intervals: Clopper-Pearson for shares, percentile bootstrap for means and pooled ratios.",
        "Seconds are wall time on the shared 2-core CPU (other LM jobs waited on the same lock). See bench/stages.py",
        "and bench/stage_report.py for each figure's definition.", "",
    ]
    write_results(name, payload, "\n".join(header + texts), out)
