"""The package's floors: a module imports only from its own floor or the floors below it, so no subpackage
imports one that imports it back (``afirs_dspy.__init__``'s lazy ``load_program`` is the one way up)."""
from __future__ import annotations

import ast
from graphlib import TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Installed name → folder (setup.cfg's package_dir maps the four top-level folders into the namespace).
FOLDERS = {"signatures": ROOT / "signatures", "programs": ROOT / "programs", "optimize": ROOT / "optimize",
           "recsys": ROOT / "recsys"}
FLOORS = [
    {"utils"},
    {"data", "text", "lm"},
    {"domain"},
    {"recsys"},
    {"artifacts", "signatures"},
    {"programs"},
    {"compiled"},
    {"evaluation"},
    {"optimize"},
    {"explain"},
    {"web"},
    {"cli"},
]
FLOOR = {package: level for level, packages in enumerate(FLOORS) for package in packages}


def subpackage_files() -> dict[str, list[Path]]:
    found = {name: sorted(folder.rglob("*.py")) for name, folder in FOLDERS.items()}
    for folder in sorted((ROOT / "afirs_dspy").iterdir()):
        if folder.is_dir() and (folder / "__init__.py").exists():
            found[folder.name] = sorted(folder.rglob("*.py"))
    return found


def imported_modules(path: Path) -> set[str]:
    """The afirs_dspy modules a file imports at run time (imports under ``if TYPE_CHECKING`` are types only)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                   and ast.unparse(stmt.test).endswith("TYPE_CHECKING") for node in ast.walk(stmt)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from package import module" imports that module, not (only) the package's __init__
            modules = {f"{node.module}.{alias.name}" for alias in node.names} & KNOWN_MODULES
            names.update(modules or {node.module})
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("afirs_dspy.")}


def imported_subpackages(path: Path) -> set[str]:
    return {name.split(".")[1] for name in imported_modules(path)}


def module_name(package: str, path: Path) -> str:
    folder = FOLDERS.get(package, ROOT / "afirs_dspy" / package)
    parts = path.relative_to(folder).with_suffix("").parts
    return ".".join(["afirs_dspy", package, *parts[:-1], *(() if parts[-1] == "__init__" else parts[-1:])])


def test_every_subpackage_has_a_floor():
    assert set(subpackage_files()) == set(FLOOR)


def test_no_module_imports_a_higher_floor():
    upward = [f"{path.relative_to(ROOT)} ({package}) imports {target}"
              for package, paths in subpackage_files().items() for path in paths
              for target in imported_subpackages(path) if FLOOR.get(target, -1) > FLOOR[package]]
    assert not upward, "\n".join(upward)


def test_top_level_modules_are_only_the_package_entry():
    assert sorted(p.name for p in (ROOT / "afirs_dspy").glob("*.py")) == ["__init__.py"]


def test_no_module_imports_one_that_imports_it_back():
    graph = {module_name(package, path): imported_modules(path)
             for package, paths in subpackage_files().items() for path in paths}
    TopologicalSorter(graph).prepare()  # CycleError names the cycle


def test_the_run_commands_only_parse_options_and_call_their_run_objects():
    # eval and compile are thin: evaluation/eval_run.py and optimize/compile_run.py hold the runs (issue #35)
    for name in ("evaluate.py", "compile.py"):
        assert len((ROOT / "afirs_dspy" / "cli" / name).read_text().splitlines()) <= 120, name


KNOWN_MODULES = {module_name(package, path) for package, paths in subpackage_files().items() for path in paths}
