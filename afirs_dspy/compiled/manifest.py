"""The manifest saved beside a compiled program: what it was compiled on and with, and how well it did.

A compiled program's demos and instructions are only meaningful with the same data, preference tree
and recommender checkpoint, so loading checks their hashes and refuses a mismatch (``ManifestMismatch``)
rather than building a silently different program. The program file's own hash is recorded too, so an
edited program file is refused.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from afirs_dspy import __version__
from afirs_dspy.utils.paths import artifacts_dir, checkpoint_dir, tree_file

FORMAT = 2  # 2: the program file's sha256


class ManifestMismatch(Exception):
    """The installed data or artifacts are not the ones the program was compiled with (or are missing)."""


class InvalidCompiledProgram(ManifestMismatch):
    """A compiled program or its manifest that is unreadable, incomplete or edited since it was saved."""


def manifest_path(program_path: str | os.PathLike) -> Path:
    path = Path(program_path)
    return path.with_name(f"{path.stem}.manifest.json")


def files_digest(paths: list[Path]) -> str:
    """SHA-256 over the files' bytes, in order; a missing file counts as "-"."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes() if path.is_file() else b"-")
    return sha.hexdigest()


def artifact_files(dataset_name: str, artifacts_root: str | os.PathLike | None) -> dict[str, list[Path]]:
    """The files a program of ``dataset_name`` is built from: its tree and its recommender checkpoint."""
    return {"tree": [tree_file(dataset_name, artifacts_root)],
            "recsys": sorted(checkpoint_dir(dataset_name, artifacts_root).glob("*"))}


@dataclass
class Manifest:
    method: str
    config: dict                 # AFIRSConfig fields
    dataset: dict                # name, raw_dir, preprocess, data_key
    artifacts: dict              # root, and per artifact: files, sha256
    lm: dict                     # spec, api_base (None: the embedded default)
    program_sha256: str = ""     # of the program file saved beside it
    optimizer: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    versions: dict = field(default_factory=dict)
    format: int = FORMAT

    @staticmethod
    def describe_artifacts(dataset_name: str, artifacts_root: str | os.PathLike | None) -> dict:
        described = {"root": str(artifacts_dir(artifacts_root).resolve())}
        for name, paths in artifact_files(dataset_name, artifacts_root).items():
            described[name] = {"files": [p.name for p in paths if p.is_file()], "sha256": files_digest(paths)}
        return described

    def save(self, path: str | os.PathLike) -> Path:
        target = manifest_path(path)
        target.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return target

    @classmethod
    def load(cls, program_path: str | os.PathLike) -> Manifest:
        """The manifest beside ``program_path``, checked for its keys, their types and the program's hash."""
        path = manifest_path(program_path)
        if Path(program_path).suffix != ".json":
            raise InvalidCompiledProgram(f"{program_path} is not a .json file: compiled programs are saved as DSPy "
                                         "JSON state by `afirs-dspy compile` (pickles are never loaded)")
        if not Path(program_path).is_file():
            raise ManifestMismatch(f"no compiled program at {program_path}")
        if not path.is_file():
            raise ManifestMismatch(f"no manifest at {path}: a compiled program is saved with one by `afirs-dspy compile`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InvalidCompiledProgram(f"{path} is not a manifest's JSON ({type(exc).__name__}): "
                                         "compile again") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise InvalidCompiledProgram(f"{path} has manifest format {found}; this afirs-dspy "
                                         f"({__version__}) reads format {FORMAT}: compile again")
        problem = _schema_problem(data)
        if problem:
            raise InvalidCompiledProgram(f"{path}: {problem}: compile again")
        manifest = cls(**data)
        if files_digest([Path(program_path)]) != manifest.program_sha256:
            raise InvalidCompiledProgram(f"{program_path} is not the file its manifest was saved with (sha256 "
                                         f"{manifest.program_sha256[:16]} recorded): it was edited or replaced; "
                                         "compile again")
        return manifest

    def check(self, dataset_key: str, artifacts_root: str | os.PathLike | None) -> None:
        """Raise ManifestMismatch unless the data and artifacts are the ones compiled with."""
        name = self.dataset["name"]
        if dataset_key != self.dataset["data_key"]:
            raise ManifestMismatch(
                f"the prepared {name} data differ from those the program was compiled on (data key "
                f"{self.dataset['data_key'][:16]} there, {str(dataset_key)[:16]} here): use the same files and "
                f"preprocessing ({self.dataset['preprocess']}) or compile again")
        found = self.describe_artifacts(name, artifacts_root)
        for artifact in ("tree", "recsys"):
            if found[artifact]["sha256"] != self.artifacts[artifact]["sha256"]:
                raise ManifestMismatch(
                    f"the {artifact} artifact in {found['root']} ({', '.join(found[artifact]['files']) or 'missing'}) "
                    f"is not the one the program was compiled with (sha256 {self.artifacts[artifact]['sha256'][:16]} "
                    f"there, {found[artifact]['sha256'][:16]} here): point --artifacts-dir at the artifacts it was "
                    "compiled with, or compile again")


_TYPES = {"method": str, "config": dict, "dataset": dict, "artifacts": dict, "lm": dict, "program_sha256": str,
          "optimizer": dict, "scores": dict, "created": str, "versions": dict, "format": int}
_NESTED = {"dataset": {"name": str, "data_key": str, "preprocess": dict},
           "artifacts": {"tree": dict, "recsys": dict},
           "lm": {"spec": (str, type(None)), "api_base": (str, type(None))}}


def _schema_problem(data: dict) -> str | None:
    """What is wrong with a manifest's keys and value types, or None."""
    known = {f.name: f for f in fields(Manifest)}
    missing = [n for n, f in known.items() if n not in data and f.default is MISSING and f.default_factory is MISSING]
    if not data.get("program_sha256"):  # has a default only so that the field can be filled in on saving
        missing.append("program_sha256")
    extra = sorted(set(data) - set(known))
    if missing or extra:
        return f"missing keys {missing}, unknown keys {extra}"
    for name, kind in _TYPES.items():
        if name in data and not isinstance(data[name], kind):
            return f"{name} is a {type(data[name]).__name__}, not a {kind.__name__}"
    for name, keys in _NESTED.items():
        for key, kind in keys.items():
            if not isinstance(data[name].get(key), kind):
                return f"{name}.{key} is {data[name].get(key)!r}"
    for artifact in ("tree", "recsys"):
        if not isinstance(data["artifacts"][artifact].get("sha256"), str):
            return f"artifacts.{artifact}.sha256 is missing"
    return None
