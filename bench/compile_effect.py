"""Compile effect: validation and test SR@5 / AT of AF-IRS before and after `afirs-dspy compile`.

    python bench/compile_effect.py [--dataset ml-latest-small] [--optimizer bootstrap] [--compile-sessions 4]
                                   [--n-sessions 6] [--program COMPILED.json] [--lm …] [--api-base …] [--seed 0]
                                   [--resume]

Compiles with the given (by default the cheapest) optimizer — or takes an already compiled program
(``--program``, e.g. from `afirs-dspy compile`; its manifest gives the compile's settings and scores) —
then evaluates the program as built and the compiled one on the same seeded users of the validation
split and of the test split (its evidence users); the evaluation run leaves out the users the compile
simulated (the manifest lists them; any overlap would be reported). --resume continues earlier evaluations of the same run.
Writes bench/results/compile_effect.{md,json}.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.compiled.manifest import manifest_path
from afirs_dspy.data import PreprocessConfig
from afirs_dspy.evaluation.eval_run import EvalRun, EvalSettings
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.optimize.compile_run import CompileRun, CompileRunSettings
from afirs_dspy.utils.tables import markdown_table
from lm_arguments import add_lm_arguments, lm_settings
from results_files import RESULTS, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--optimizer", default="bootstrap")
    parser.add_argument("--compile-sessions", type=int, default=4)
    parser.add_argument("--n-sessions", type=int, default=6)
    add_lm_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--program", type=Path, default=None, help="A compiled program to evaluate (no compiling).")
    parser.add_argument("--resume", action="store_true", help="continue the evaluations already in its folder")
    args = parser.parse_args()
    folder = RESULTS / "compile_effect" / f"{args.dataset}-seed{args.seed}"
    program = args.program or folder / f"afirs-{args.optimizer}.json"
    data = DatasetSpec(args.dataset, None, None, PreprocessConfig())
    if args.program is None:
        compiling = CompileRun(CompileRunSettings(optimizer=args.optimizer, n_sessions=args.compile_sessions,
                                                  seed=args.seed, **lm_settings(args)), data, program)
        compiling.save(compiling.compile())
    dataset = data.load()
    manifest = json.loads(manifest_path(program).read_text())
    scores, settings = manifest["scores"], manifest["optimizer"]
    rows, runs = [], {}
    compile_users = set(settings.get("users") or [*scores["train_users"], *scores["dev_users"]])
    overlap = {}
    for split in ("valid", "test"):
        out = folder / f"eval-{split}-n{args.n_sessions}"
        EvalRun(EvalSettings(methods=("afirs",), program_paths=(str(program),), split=split, n_sessions=args.n_sessions,
                             seed=args.seed, out=str(out), resume=args.resume, **lm_settings(args)), dataset).run()
        runs[split] = json.loads((out / "results.json").read_text())
        users = {record.user for record in Transcript(out / TRANSCRIPT).read()}
        overlap[split] = sorted(users & compile_users)
        for row in runs[split]["rows"]:
            rows.append({"split": split, "program": "compiled" if row["method"] != "afirs" else "as built",
                         "SR@1": row["SR@1"], "SR@3": row["SR@3"], "SR@5": row["SR@5"], "AT": row["AT"],
                         "DSR@5": row["DSR@5"], "sessions": row["sessions"]})
    text = "\n".join([
        f"# Compile effect ({args.dataset}, {settings['name']}, seed {settings['seed']})", "",
        f"Compile ({program}): {settings['n_sessions']} validation users simulated ({len(scores['train_users'])} "
        f"train, {len(scores['dev_users'])} dev), modules {', '.join(settings['modules'])}, "
        f"{scores['seconds'] / 60:.1f} min; LM {manifest['lm']['spec'] or 'embedded default'}.",
        "", "Per module on the compile's dev examples, and its dev sessions:", "",
        markdown_table([{**{k: m[k] for k in ("name", "n_train", "n_dev", "before", "after", "demos")},
                         "changed": "yes" if m["changed"] else "no"}
                        for m in scores["modules"]]),
        "", f"Dev session score before {scores['before']['score'] if scores['before'] else '–'}, after "
        f"{scores['after']['score'] if scores['after'] else '–'} (success with a turn penalty).",
        "", f"Evaluation on {args.n_sessions} users per split (attribute simulator); users the compile also "
        f"simulated (left out by eval, so none is expected): valid {overlap['valid'] or 'none'}, test "
        f"{overlap['test'] or 'none'}.", "", markdown_table(rows), "",
    ])
    write_results("compile_effect", {"args": vars(args), "manifest": manifest, "evaluations": runs}, text)


if __name__ == "__main__":
    main()
