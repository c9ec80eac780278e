"""Compiled programs: saving with a manifest, and ``load_program`` to use one from any script.

    from afirs_dspy import load_program
    with load_program("artifacts/steam/compiled/afirs-bootstrap.json") as program:
        turn = program(dialogue=[{"role": "user", "content": "a co-op survival game"}], history=[12, 40])
        turn.action, turn["items"], turn.reply
"""
from __future__ import annotations

import importlib.metadata
import json
import os
from dataclasses import asdict
from pathlib import Path

import dspy

from afirs_dspy import __version__
from afirs_dspy.artifacts.context import ProgramContext, load_context
from afirs_dspy.data import PreprocessConfig, load_dataset
from afirs_dspy.lm.backends import LocalEngines, make_lm
from afirs_dspy.compiled.manifest import InvalidCompiledProgram, Manifest, ManifestMismatch, files_digest, manifest_path
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import METHODS, build_program


def save_program(program: dspy.Module, path: str | os.PathLike, manifest: Manifest) -> tuple[Path, Path]:
    """DSPy's own state file (demos, instructions) at ``path`` and the manifest beside it, which
    records the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
    manifest.program_sha256 = files_digest([path])
    return path, manifest.save(path)


def restore_program(path: str | os.PathLike, context: ProgramContext,
                    artifacts_root: str | os.PathLike | None = None) -> tuple[dspy.Module, Manifest]:
    """The compiled program at ``path`` rebuilt on ``context``, after checking the manifest against it."""
    manifest = Manifest.load(path)
    return _rebuild(path, manifest, context, artifacts_root), manifest


def _rebuild(path: str | os.PathLike, manifest: Manifest, context: ProgramContext,
             artifacts_root: str | os.PathLike | None) -> dspy.Module:
    if manifest.dataset["name"] != context.dataset.name:
        raise ManifestMismatch(f"{path} was compiled on {manifest.dataset['name']}, not {context.dataset.name}")
    if manifest.method not in METHODS:
        raise InvalidCompiledProgram(f"{manifest_path(path)} names an unknown method {manifest.method!r} "
                                     f"(known: {', '.join(METHODS)}): compile again")
    manifest.check(context.dataset.data_key, artifacts_root)
    try:
        config = AFIRSConfig(**manifest.config)
    except (TypeError, ValueError) as exc:
        raise InvalidCompiledProgram(f"{manifest_path(path)} has an invalid config ({exc}): compile again") from None
    program = build_program(manifest.method, context, config)
    load_compiled_state(program, path)
    return program


def load_compiled_state(program: dspy.Module, path: str | os.PathLike) -> None:
    """Set each predictor's demos and signature texts from DSPy's state file at ``path``, and nothing else.

    ``Predict.load_state`` would also apply a saved LM and any other key (e.g. ``config``, sent with every
    call): a file could then redirect the user's LM calls, key included, to another host or model. A
    compiled program needs only its demos and instructions, so only those are read.
    """
    path = Path(path)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidCompiledProgram(f"{path} is not a compiled program's JSON ({type(exc).__name__}): "
                                     "compile again") from None
    if not isinstance(state, dict):
        raise InvalidCompiledProgram(f"{path} is not a compiled program's JSON (no object at the top): compile again")
    for name, predictor in program.named_predictors():
        saved = state.get(name)
        try:
            demos, signature = _checked_state(saved, len(predictor.signature.fields))
        except InvalidCompiledProgram as exc:
            raise InvalidCompiledProgram(f"{path}: predictor {name!r} {exc}: compile again") from None
        predictor.load_state({"demos": demos, "signature": signature, "traces": [], "train": [], "lm": None})


def _checked_state(saved: object, n_fields: int) -> tuple[list[dict], dict]:
    """The demos and signature texts of one predictor's saved state, type-checked."""
    if not isinstance(saved, dict):
        raise InvalidCompiledProgram("is missing")
    demos, signature = saved.get("demos"), saved.get("signature")
    if not isinstance(demos, list) or not all(isinstance(d, dict) for d in demos):
        raise InvalidCompiledProgram("has no list of demos")
    fields = signature.get("fields") if isinstance(signature, dict) else None
    if not (isinstance(signature, dict) and isinstance(signature.get("instructions"), str)
            and isinstance(fields, list) and len(fields) == n_fields
            and all(isinstance(f, dict) and isinstance(f.get("prefix"), str) and isinstance(f.get("description"), str)
                    for f in fields)):
        raise InvalidCompiledProgram(f"has no signature with instructions and {n_fields} fields")
    return demos, {"instructions": signature["instructions"],
                   "fields": [{"prefix": f["prefix"], "description": f["description"]} for f in fields]}


class CompiledProgram(dspy.Module):
    """A compiled program with its LM: ``program(dialogue=…, history=…)`` answers one turn.

    Holds the local model when the LM is the embedded one: ``close()`` it, or use ``with``.
    """

    def __init__(self, program: dspy.Module, lm: dspy.LM, manifest: Manifest, context: ProgramContext,
                 engines: LocalEngines):
        super().__init__()
        self.program = program
        self.lm = lm
        self.manifest = manifest
        self.context = context
        self._engines = engines

    def forward(self, dialogue: list[dict], history: list[int]) -> dspy.Prediction:
        with dspy.context(lm=self.lm):
            return self.program(dialogue=dialogue, history=history)

    def close(self) -> None:
        self._engines.close()

    def __enter__(self) -> CompiledProgram:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def load_program(path: str | os.PathLike, lm: str | dspy.LM | None = None, api_base: str | None = None,
                 artifacts_dir: str | os.PathLike | None = None, raw_dir: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None) -> CompiledProgram:
    """Rebuild the compiled program at ``path``: its data, tree and recommender (checked against the
    manifest), its demos and instructions, and its LM: ``lm``, else the manifest's model. A server URL is
    only ever ``api_base``: one recorded in the manifest is not used. Raises ManifestMismatch when the
    installed data or artifacts differ or a file is invalid."""
    manifest = Manifest.load(path)
    recorded_base = manifest.lm.get("api_base")
    if lm is None and recorded_base and not api_base:
        raise ManifestMismatch(f"{path} was compiled with an LM server at {recorded_base}; a compiled program "
                               "never chooses where your LM calls go: pass that URL as api_base (--api-base), "
                               "or choose an LM with lm (--lm)")
    data = manifest.dataset
    dataset = load_dataset(data["name"], raw_dir or data.get("raw_dir"), cache_dir, PreprocessConfig(**data["preprocess"]))
    root = artifacts_dir or manifest.artifacts["root"]
    context = load_context(dataset, root)
    program = _rebuild(path, manifest, context, root)
    engines = LocalEngines()
    if not isinstance(lm, dspy.LM):
        lm = make_lm(lm if lm is not None else manifest.lm.get("spec"), api_base, engines=engines)
    return CompiledProgram(program, lm, manifest, context, engines)


def new_manifest(method: str, config: AFIRSConfig, context: ProgramContext, raw_dir: str | None,
                 preprocess: PreprocessConfig, artifacts_root: str | os.PathLike | None, lm_spec: str | None,
                 api_base: str | None, optimizer: dict, scores: dict) -> Manifest:
    dataset = context.dataset
    return Manifest(
        method=method, config=asdict(config),
        dataset={"name": dataset.name, "raw_dir": str(Path(raw_dir).resolve()) if raw_dir else None,
                 "preprocess": asdict(preprocess), "data_key": dataset.data_key},
        artifacts=Manifest.describe_artifacts(dataset.name, artifacts_root),
        lm={"spec": lm_spec, "api_base": api_base}, optimizer=optimizer, scores=scores,
        versions={"afirs-dspy": __version__, "dspy": importlib.metadata.version("dspy")},
    )
