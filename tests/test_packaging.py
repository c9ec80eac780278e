"""The four top-level folders install as afirs_dspy subpackages, never as top-level packages."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("signatures", "programs", "optimize", "recsys")

PROBE = """
import importlib.util, json, afirs_dspy.recsys, afirs_dspy.signatures
from afirs_dspy.data import load_dataset
print(json.dumps({
    "recsys": afirs_dspy.recsys.__file__,
    "top_level": [n for n in %r if importlib.util.find_spec(n) is not None],
    "items": load_dataset(cache_dir=%r).n_items,
}))
"""


def _probe(cwd: Path, env_path: str | None = None) -> dict:
    import json
    import os

    env = dict(os.environ, PYTHONPATH=env_path) if env_path else None
    code = PROBE % (SUBPACKAGES, str(cwd / "cache"))
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_wheel_maps_folders_into_the_namespace_and_ships_movielens(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("afirs_dspy-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for sub in SUBPACKAGES:
        assert f"afirs_dspy/{sub}/__init__.py" in names
        assert not any(n.startswith(f"{sub}/") for n in names)
    for data_file in ("README.txt", "ratings.csv", "movies.csv", "tags.csv"):
        assert f"afirs_dspy/data/bundled/ml-latest-small/{data_file}" in names
    for page_file in ("index.html", "app.js", "style.css"):  # afirs-dspy serve's page
        assert f"afirs_dspy/web/static/{page_file}" in names
    # A normal (non-editable) install, imported from outside the repo.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    found = _probe(outside, str(target))
    assert found["recsys"] == str(target / "afirs_dspy" / "recsys" / "__init__.py")
    assert found["top_level"] == [] and found["items"] == 1862


def test_installed_package_imports_from_outside_the_repo(tmp_path):
    # The test command installs the repo editable: the mapping must hold from any directory.
    found = _probe(tmp_path)
    assert Path(found["recsys"]).parent.name == "recsys"
    assert found["top_level"] == [] and found["items"] == 1862


def test_every_install_builds_llama_cpp_as_the_readme_does():
    """The README's commands, CI and the evidence worktrees build llama.cpp with the one set of CMake flags."""
    from afirs_dspy.lm.llama_engine import LLAMA_CPP_CMAKE_ARGS

    root = Path(__file__).resolve().parents[1]
    readme, ci = (root / "README.md").read_text(), (root / ".ci" / "run").read_text()
    assert readme.count(f'CMAKE_ARGS="{LLAMA_CPP_CMAKE_ARGS}"') == 2 and f'CMAKE_ARGS="{LLAMA_CPP_CMAKE_ARGS}"' in ci
    assert "LLAMA_CPP_CMAKE_ARGS" in (root / "bench" / "evidence_checkout.py").read_text()
