"""Stage-level benchmarks of AF-IRS (issue 15): each stage of a turn run on its own, "before" and "after"
in one run, on many cases at one or a few LM calls each.

    python bench/stages.py [--datasets ml-latest-small,steam] [--split test|valid] [--n-cases 200]
                           [--minutes 20] [--stages summary,extraction,candidates,refinement,decision] [--turns 1,2]
                           [--seed 0] [--lm …] [--api-base …] [--out bench/results] [--report-only]

Cases are the users of the test split's development slice, or of ``--split valid``, in their seeded order
(``development_cases``: the first ``--n-cases``; never the evidence users that Table 2 and the evidence runs
take; no compiled program is involved, so no compile users to leave out). Turn 1 is the
attribute simulator's opener for the user's target; turn 2 adds the generic recommender question and
the simulator's answer to it (its next speakable attributes of the target). ``--split valid`` tunes (the
match-share threshold of the decision's trivial policy), the default test split is what is reported.

Per case and arm, each stage calls one ActionStage / DecisionStage method:
- extraction: ``extract`` on turns 1 and 2 → the session preferences (tree nodes);
- candidates: ``candidates`` from that extraction (no LM), beside plain SASRec top 50 and the attribute
  hard filter + SASRec on the extracted nodes' attributes;
- refinement (turn 1): ``summarize_preferences``, then, when the target is among the 50,
  ``refine_candidates``; otherwise no refinement can put the target in the 10, so the LM call is saved and
  the 10 are the arm's order without its LM (the tool's for "lm", else the preference score's);
- decision (turn 1): ``choose`` on those 10, with the program's computed evidence when the arm uses it;
  the evidence's match share also drives the trivial policy "recommend iff match share ≥ x";
- summary: ``summarize_preferences`` on the hand-written dialogues of bench/data/summary_dialogues.json
  (an arm that checks the summary against the extracted nodes extracts them first).

Every result is one JSON line per (dataset, stage, arm, case, turn) in bench/results/stages/, appended as
it is made (afirs_dspy.utils.jsonl_file: kill-safe); a run skips what the transcript holds for the same code and
arm settings, so it can run in chunks (``--minutes``) and be continued later. The tables
(bench/results/stages.{md,json}, see stage_report.py) are rebuilt from the transcripts alone.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import dspy
from tqdm import tqdm

from afirs_dspy.cli.lm_options import open_lm
from afirs_dspy.artifacts.context import ProgramContext, load_context
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.provenance import code_digest, program_hash
from afirs_dspy.evaluation.sampling import development_cases
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.evaluation.usage import metered
from afirs_dspy.utils.jsonl_file import append_line, read_lines
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree
from afirs_dspy.programs.action_stage import INPUT_ORDER
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.dialogue import render_conversation, user_responses
from afirs_dspy.programs.registry import build_program
from afirs_dspy.programs.turn import GENERIC_QUESTION
from afirs_dspy.signatures import UserPreferences
from extraction import is_hit
from lm_arguments import add_lm_arguments
from results_files import RESULTS
from stage_report import write_report

# The two arms, as AFIRSConfig keyword arguments (the one place they are set): the stages as they were
# before issue 15, and the defaults.
ARMS: dict[str, dict] = {
    "before": {"extraction": "levelwise", "relax_up_tree": False, "summary": "lm", "refinement": "lm",
               "decision_facts": False},
    "after": {},
}
STAGES = ("summary", "extraction", "candidates", "refinement", "decision")
DATASETS = ("ml-latest-small", "steam")
DIALOGUES = Path(__file__).parent / "data" / "summary_dialogues.json"
DOMAIN_OF = {"ml-latest-small": "movies", "steam": "games"}
TRANSCRIPTS = "stages"


def transcript_path(out: Path, dataset: str, split: str) -> Path:
    """User cases: ``<dataset>-<split>.jsonl``; the summary's hand-written dialogues: ``<dataset>-summary.jsonl``."""
    return out / TRANSCRIPTS / f"{dataset}-{split}.jsonl"


@dataclass(frozen=True)
class Case:
    """One user's two first turns: ``dialogues[t]`` is what the program sees at turn t + 1 and ``spoken[t]``
    the target's attributes the user has said by then."""

    user: str
    target: int
    history: list[int]
    dialogues: tuple[list[dict], list[dict]]
    spoken: tuple[list[str], list[str]]


def users(dataset, args: argparse.Namespace) -> list[SessionCase]:
    """The users the cases are made of: the test split's development slice, or the validation split."""
    return development_cases(dataset, args.n_cases, args.seed, args.split)


def build_cases(context: ProgramContext, sample: list[SessionCase], seed: int) -> list[Case]:
    simulators = AttributeSimulators(context, seed)
    cases = []
    for sampled in sample:
        user = simulators(sampled)
        first = [{"role": "user", "content": user.open()}]
        spoken = list(user.revealed)
        asked = [*first, {"role": "assistant", "content": GENERIC_QUESTION}]
        reply = user.respond({"action": "ask", "question": GENERIC_QUESTION, "items": []}, asked)
        cases.append(Case(sampled.user, sampled.target, list(sampled.history),
                          (first, [*asked, {"role": "user", "content": reply}]), (spoken, list(user.revealed))))
    return cases


def attribute_of(tree: PreferenceTree, node: int) -> str | None:
    """The attribute at or above ``node`` (None for a category or subcategory)."""
    for above in (node, *tree.ancestors(node)):
        if tree.nodes[above].level == ATTRIBUTE_LEVEL:
            return tree.nodes[above].name
    return None


def _usage(usage) -> dict:
    return {"lm_calls": usage.lm_calls, "model_calls": usage.model_calls, "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens, "seconds": round(usage.seconds, 3)}


def _steps(trace: list[dict]) -> list[dict]:
    return [{k: e[k] for k in ("step", "status", "note") if k in e} for e in trace]


class ArmStages:
    """One arm's program, its stages callable one at a time."""

    def __init__(self, name: str, context: ProgramContext, settings: dict):
        self.name = name
        self.context = context
        self.tree = context.tree
        self.config = AFIRSConfig(**settings)
        self.program = build_program("afirs", context, self.config)
        self.version = hashlib.sha256(f"{code_digest()}:{program_hash(self.program)}".encode()).hexdigest()[:16]

    def extraction(self, case: Case, turn: int) -> dict:
        dialogue = case.dialogues[turn - 1]
        with metered() as usage:
            nodes, trace = self.extract(dialogue)
        return {"text": user_responses(dialogue), "nodes": nodes, "paths": [self.tree.path(n) for n in nodes],
                "spoken": case.spoken[turn - 1],
                "hit": is_hit(self.tree, nodes, set(case.spoken[turn - 1])), "n_preferences": len(nodes),
                "usage": _usage(usage), "trace": _steps(trace)}

    def extract(self, dialogue: list[dict]) -> tuple[list[int], list[dict]]:
        """The session's preferences after ``dialogue``, as the arm's turn reads them, and the trace."""
        memory = self.program.action_stage.memory(dialogue=dialogue)
        return list(memory.state.preferences), list(memory.trace)

    def candidates(self, case: Case, nodes: list[int]) -> dict:
        tool, k = self.context.tool, self.config.n_candidates
        recommendation = self.program.action_stage.candidates(case.history, nodes, [])
        attributes = list(dict.fromkeys(a for a in (attribute_of(self.tree, n) for n in nodes) if a))
        filtered = tool.recommend_with_attribute_filter(case.history, attributes, k=k).items
        plain = tool.recommend(case.history, None, k=k).items
        return {"items": list(recommendation.items), "hit": case.target in recommendation.items,
                "sasrec_hit": case.target in plain, "filter_hit": case.target in filtered,
                "filter_attributes": attributes, "filter_size": len(filtered), "relaxed": list(recommendation.relaxed),
                "stage_counts": recommendation.stage_counts()}

    def unrefined(self, candidates: list[int], nodes: list[int], preferences: UserPreferences) -> list[int]:
        """The arm's refinement without its LM call: the tool's order ("lm"), else the preference score's."""
        stage, k = self.program.action_stage, self.config.n_recommend
        return candidates[:k] if stage.refinement == "lm" else stage.matcher.order(candidates, nodes, preferences)[:k]

    def refinement(self, case: Case, candidates: list[int], nodes: list[int]) -> dict:
        """The summary, then (target among the candidates) the refinement; otherwise no refinement can put the
        target in the 10, so the LM call is saved and the 10 shown to the decision are ``unrefined``."""
        dialogue, trace = case.dialogues[0], []
        stage = self.program.action_stage
        inside = case.target in candidates
        with metered() as summary_usage:
            preferences = stage.summarize_preferences(render_conversation(dialogue), trace,
                                                      user_text=user_responses(dialogue), preference_nodes=nodes)
        with metered() as refine_usage:
            refined = (stage.refine_candidates(preferences, candidates, trace, preference_nodes=nodes) if inside
                       else self.unrefined(candidates, nodes, preferences))
        steps = [e for e in trace if e["step"] == "refine"]
        top = candidates[: self.config.n_recommend]
        return {"in_candidates": inside, "summary": preferences.model_dump(), "refined": refined,
                "hit": case.target in refined, "tool_hit": case.target in top, "tool_order": refined == top,
                "lm_answered": refine_usage.lm_calls > 0 and bool(steps) and steps[-1]["status"] != "fallback",
                "input_order": any(e.get("note") == INPUT_ORDER for e in steps),
                "usage": _usage(summary_usage + refine_usage), "refine_usage": _usage(refine_usage),
                "trace": _steps(trace)}

    def decision(self, case: Case, refined: dict, nodes: list[int]) -> dict:
        """``choose`` on the 10 the refinement line holds; the match share is the program's own evidence."""
        trace, items = [], refined["refined"]
        evidence = self.program.matcher.evidence(items, nodes, UserPreferences(**refined["summary"]))
        with metered() as usage:
            action = self.program.decision_stage.choose(render_conversation(case.dialogues[0]), items, trace,
                                                        evidence if self.config.decision_facts else None)
        return {"items": items, "action": action, "label": case.target in items, "match_share": evidence.match_share,
                "evidence": evidence.render(), "usage": _usage(usage), "trace": _steps(trace)}

    def summary(self, dialogue: dict) -> dict:
        """``summarize_preferences`` as a turn calls it; an arm that checks the summary gets the extracted
        nodes (its fallback likes), so it pays for the extraction too."""
        turns = dialogue["dialogue"]
        text, stage = user_responses(turns), self.program.action_stage
        with metered() as usage:
            nodes, trace = self.extract(turns) if self.config.summary != "lm" else ([], [])
            predicted = stage.summarize_preferences(render_conversation(turns), trace, user_text=text,
                                                    preference_nodes=nodes)
        return {"dialogue": turns, "expected": {k: dialogue[k] for k in ("likes", "dislikes", "constraints")},
                "predicted": predicted.model_dump(), "paths": [self.tree.path(n) for n in nodes],
                "usage": _usage(usage), "trace": _steps(trace)}


class StageTranscript:
    """The lines of one transcript file, by key, for one set of arm versions; new lines are appended."""

    def __init__(self, path: Path, dataset: str, split: str, seed: int, versions: dict[str, str]):
        self.path, self.dataset, self.split, self.seed = path, dataset, split, seed
        self.lines = {self._key(l["stage"], l["arm"], l["case"], l["turn"]): l for l in read_lines(path)
                      if l.get("seed") == seed and l.get("version") == versions.get(l.get("arm"))}
        self.versions = versions

    @staticmethod
    def _key(stage: str, arm: str, case: str, turn: int) -> tuple:
        return stage, arm, str(case), turn

    def get(self, stage: str, arm: str, case: str, turn: int = 1) -> dict | None:
        return self.lines.get(self._key(stage, arm, case, turn))

    def obtain(self, stage: str, arm: str, case: str, turn: int, make, **about) -> dict:
        """The stored line, or ``make()``'s result written as a new line."""
        line = self.get(stage, arm, case, turn)
        if line is None:
            line = {"dataset": self.dataset, "split": self.split, "seed": self.seed, "stage": stage, "arm": arm,
                    "case": str(case), "turn": turn, "version": self.versions[arm], **about, **make()}
            append_line(self.path, line)
            self.lines[self._key(stage, arm, case, turn)] = line
        return line


def run_case(arm: ArmStages, case: Case, stages: set[str], log: StageTranscript, turns: tuple[int, ...] = (1, 2)) -> None:
    """The requested stages of ``case`` for ``arm``, each upstream stage they need first. Extraction and
    candidates run on ``turns``; refinement and decision on turn 1 (so they need its extraction)."""
    turns = tuple(sorted({*turns, 1})) if stages & {"refinement", "decision"} else turns
    about = {"target": case.target}
    nodes, found = {}, {}
    for turn in turns:
        extracted = log.obtain("extraction", arm.name, case.user, turn, lambda: arm.extraction(case, turn), **about)
        nodes[turn] = extracted["nodes"]
        found[turn] = log.obtain("candidates", arm.name, case.user, turn,
                                 lambda: arm.candidates(case, nodes[turn]), **about)
    if not stages & {"refinement", "decision"}:
        return
    refined = log.obtain("refinement", arm.name, case.user, 1,
                         lambda: arm.refinement(case, found[1]["items"], nodes[1]), **about)
    if "decision" in stages:
        log.obtain("decision", arm.name, case.user, 1, lambda: arm.decision(case, refined, nodes[1]), **about)


def summary_dialogues(dataset: str) -> list[dict]:
    dialogues = json.loads(DIALOGUES.read_text())["dialogues"]
    return [d for d in dialogues if d["domain"] == DOMAIN_OF.get(dataset, d["domain"])]


def run_dataset(context: ProgramContext, split: str, sample: list[SessionCase], seed: int, stages: set[str], out: Path,
                deadline: float | None, turns: tuple[int, ...] = (1, 2)) -> None:
    """Run what the transcripts lack, dialogue by dialogue and case by case (both arms each; ``sample``: the
    users of ``split``), until ``deadline``."""
    arms = [ArmStages(name, context, settings) for name, settings in ARMS.items()]
    versions = {arm.name: arm.version for arm in arms}
    name = context.dataset.name
    if "summary" in stages:
        log = StageTranscript(transcript_path(out, name, "summary"), name, "summary", seed, versions)
        for dialogue in tqdm(summary_dialogues(name), desc=f"{name} summary", unit="dialogue"):
            if deadline is not None and time.monotonic() > deadline:
                return
            for arm in arms:
                log.obtain("summary", arm.name, dialogue["id"], 1, lambda: arm.summary(dialogue))
    if not stages - {"summary"}:
        return
    log = StageTranscript(transcript_path(out, name, split), name, split, seed, versions)
    for case in tqdm(build_cases(context, sample, seed), desc=f"{name} {split}", unit="case"):
        if deadline is not None and time.monotonic() > deadline:
            return
        for arm in arms:
            run_case(arm, case, stages, log, turns)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--split", choices=("test", "valid"), default="test",
                        help="valid: cases to tune on (the decision policy's threshold); test: cases to report, from "
                        "the test split's development slice.")
    parser.add_argument("--n-cases", type=int, default=200,
                        help="Users per dataset (each gets both arms); the development slice holds 200.")
    parser.add_argument("--minutes", type=float, default=20,
                        help="Start no new case after this long (0: no limit); run again to continue.")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="Stages to run; a stage runs the upstream stages it needs.")
    parser.add_argument("--turns", default="1,2", choices=("1", "2", "1,2"),
                        help="Turns whose extraction and candidates run (1 first gives more cases per minute).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true", help="Table what the transcripts hold; run nothing.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Results folder (transcripts under OUT/stages/).")
    add_lm_arguments(parser)
    return parser


def main() -> None:
    parser = arguments()
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    if stages - set(STAGES):
        parser.error(f"unknown stages {sorted(stages - set(STAGES))}; known: {', '.join(STAGES)}")
    datasets = args.datasets.split(",")
    if not args.report_only:
        deadline = time.monotonic() + 60 * args.minutes if args.minutes else None
        with LocalEngines() as engines, dspy.context(lm=open_lm(args.lm, args.api_base, engines)):
            for name in datasets:
                context = load_context(load_dataset(name))
                run_dataset(context, args.split, users(context.dataset, args), args.seed, stages, args.out, deadline,
                            tuple(int(t) for t in args.turns.split(",")))
    # The tables cover every dataset with a transcript, whichever this run added to.
    tabled = [name for name in dict.fromkeys([*DATASETS, *datasets])
              if name in datasets or any((args.out / TRANSCRIPTS).glob(f"{name}-*.jsonl"))]
    write_report(args.out, tabled, args.seed, {"lm": args.lm or "embedded (local)", "arms": ARMS})


if __name__ == "__main__":
    main()
