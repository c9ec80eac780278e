"""Compiled programs: saving with a manifest, and ``load_program`` to use one from any script.

    from afirs_dspy import load_program
    with load_program("artifacts/steam/compiled/afirs-bootstrap.json") as program:
        turn = program(dialogue=[{"role": "user", "content": "a co-op survival game"}], history=[12, 40])
        turn.action, turn["items"], turn.reply
"""
from __future__ import annotations

import importlib.metadata
import os
from dataclasses import asdict
from pathlib import Path

import dspy

from afirs_dspy import __version__
from afirs_dspy.context import ProgramContext, load_context
from afirs_dspy.data import PreprocessConfig, load_dataset
from afirs_dspy.lm.backends import LocalEngines, make_lm
from afirs_dspy.manifest import Manifest, ManifestMismatch
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program


def save_program(program: dspy.Module, path: str | os.PathLike, manifest: Manifest) -> tuple[Path, Path]:
    """DSPy's own state file (demos, instructions) at ``path`` and the manifest beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
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
    manifest.check(context.dataset.data_key, artifacts_root)
    program = build_program(manifest.method, context, AFIRSConfig(**manifest.config))
    program.load(str(path))
    return program


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
    manifest), its demos and instructions, and its LM (the manifest's unless ``lm``/``api_base`` say
    otherwise). Raises ManifestMismatch when the installed data or artifacts differ."""
    manifest = Manifest.load(path)
    data = manifest.dataset
    dataset = load_dataset(data["name"], raw_dir or data.get("raw_dir"), cache_dir, PreprocessConfig(**data["preprocess"]))
    root = artifacts_dir or manifest.artifacts["root"]
    context = load_context(dataset, root)
    program = _rebuild(path, manifest, context, root)
    engines = LocalEngines()
    if not isinstance(lm, dspy.LM):
        spec = lm if lm is not None else manifest.lm.get("spec")
        lm = make_lm(spec, api_base if lm is not None or api_base else manifest.lm.get("api_base"), engines=engines)
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
