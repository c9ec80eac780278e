"""What a run's sessions depend on, for ``run.json`` and every session record: the code (package version,
git commit, a hash of the sources), each method's program state and the simulator's settings.
``--resume`` compares them, so a transcript never mixes sessions of different code, programs or simulators.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
from dataclasses import fields, is_dataclass
from pathlib import Path

import dspy

import afirs_dspy

HASH_CHARS = 16
# setup.cfg's package_dir puts these top-level folders inside the package; they live outside its folder.
MAPPED_PACKAGES = ("afirs_dspy.signatures", "afirs_dspy.programs", "afirs_dspy.optimize", "afirs_dspy.recsys")


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:HASH_CHARS]


def _source_files() -> dict[str, Path]:
    """Every .py file of the package, with the folders setup.cfg maps into its namespace (programs/, …)."""
    roots = {"afirs_dspy": Path(afirs_dspy.__path__[0])}
    for name in MAPPED_PACKAGES:
        spec = importlib.util.find_spec(name)
        roots[name] = Path(list(spec.submodule_search_locations)[0])
    files = {}
    for name, root in roots.items():
        for path in root.rglob("*.py"):
            files.setdefault(path.resolve(), f"{name}/{path.relative_to(root).as_posix()}")
    return {label: path for path, label in files.items()}


def code_digest() -> str:
    """SHA-256 (first 16 hex digits) over the package's sources, by module path: changes with any code edit."""
    sha = hashlib.sha256()
    for label, path in sorted(_source_files().items()):
        sha.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:HASH_CHARS]


def git_commit() -> str | None:
    """The checkout's commit when the package runs from a git working tree, else None."""
    try:
        done = subprocess.run(["git", "-C", str(Path(afirs_dspy.__path__[0])), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def code_provenance() -> dict:
    return {"version": afirs_dspy.__version__, "git_commit": git_commit(), "code": code_digest()}


def _plain(value) -> bool:
    try:
        json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return False
    return True


def settings_of(obj, depth: int = 2, top: bool = True) -> dict:
    """An object's settings, read generically: its public attributes that are numbers, strings, booleans
    or dataclasses of such (the top level also JSON-able dicts and lists), and those of the project's own
    objects it holds, ``depth`` levels down. Data, models and LMs are not settings and are skipped."""
    out = {}
    for key, value in vars(obj).items():
        if key.startswith("_"):
            continue
        if is_dataclass(value) and not isinstance(value, type):
            plain = {f.name: getattr(value, f.name) for f in fields(value)}
            if _plain(plain):
                out[key] = plain
                continue
        elif isinstance(value, (bool, int, float, str, type(None))) or (top and _plain(value)):
            out[key] = value
            continue
        if depth > 1 and type(value).__module__.startswith("afirs_dspy.") and hasattr(value, "__dict__"):
            nested = settings_of(value, depth - 1, top=False)
            if nested:
                out[key] = nested
    return out


def simulator_settings(simulators) -> dict:
    """The simulator factory's name and settings (``settings_of``), as run.json records them."""
    return {"name": getattr(simulators, "name", type(simulators).__name__), "class": type(simulators).__qualname__,
            **settings_of(simulators)}


def _module_settings(module: dspy.Module) -> dict:
    """The project's modules: their settings (``settings_of``); DSPy's own (Predict, ReAct, …): their LM
    call config only, as the rest of their attributes is run-time bookkeeping (call history, a random stage id);
    so are the project's subclasses of ``dspy.Predict`` (``CompactPredict``)."""
    if type(module).__module__.startswith("afirs_dspy.") and not isinstance(module, dspy.Predict):
        bookkeeping = vars(dspy.Module()).keys()
        return {k: v for k, v in settings_of(module, depth=1).items() if k not in bookkeeping}
    config = getattr(module, "config", None)
    return {"config": config} if config and _plain(config) else {}


def program_hash(program: dspy.Module) -> str:
    """A hash of what a program's sessions depend on beyond the code: its class, every predictor's DSPy state
    (signature instructions, field prefixes and descriptions, demos) and the settings of each of its modules
    (AFIRSConfig switches and sizes, …)."""
    return _digest({
        "class": f"{type(program).__module__}.{type(program).__qualname__}",
        "state": program.dump_state(),
        "settings": {name: _module_settings(module) for name, module in [("self", program), *program.named_sub_modules()]},
    })
