"""The code an evidence plan measures: a git worktree of its pinned commit with an environment of its own,
so that development on the main checkout never changes what an evidence run runs.

``<worktrees>/<commit[:12]>/`` (default ``$AFIRS_CACHE_DIR/evidence`` or ``~/.cache/afirs-dspy/evidence``)
is made with ``git worktree add --detach``, and its ``.venv`` with ``pip install -e`` (the README's command:
a few minutes with llama-cpp-python's wheel in pip's cache). Whatever the interpreter — that one, or one
given with ``--python`` — the code it imports is checked to be the pinned commit's, with no uncommitted
change, before a cell runs. It is
started with ``-P``, so the main checkout's folders (the working directory, where ``./artifacts`` and
``../shared/data`` are found) never shadow the pinned package.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from afirs_dspy.evaluation.provenance import MAPPED_PACKAGES, code_digest
from afirs_dspy.lm.llama_engine import LLAMA_CPP_CMAKE_ARGS
from afirs_dspy.utils.paths import cache_dir

# The folders that make the code: the package and those setup.cfg maps into it (programs/, …), as code_digest reads.
PACKAGE = ("afirs_dspy", *(name.rpartition(".")[2] for name in MAPPED_PACKAGES))
EXTRAS = "local,mipro"  # the embedded LM; MIPROv2 for a compile cell
WHO = ("import afirs_dspy; from afirs_dspy.evaluation.provenance import code_digest, git_commit; "
       "print(git_commit(), code_digest(), afirs_dspy.__path__[0])")


class CheckoutError(RuntimeError):
    """The pinned code cannot be checked out, installed or confirmed; the message says what to do."""


def default_worktrees() -> Path:
    return cache_dir() / "evidence"


@dataclass(frozen=True)
class PinnedCode:
    commit: str
    code: str     # provenance.code_digest() of the installed sources, as every run.json records it
    python: Path

    def command(self, *arguments: str) -> list[str]:
        """``afirs-dspy <arguments>`` as the pinned code runs it."""
        return [str(self.python), "-P", "-m", "afirs_dspy.cli", *arguments]


def _run(command: Sequence[str], what: str, **options) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, **options)
    except OSError as exc:
        raise CheckoutError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise CheckoutError(f"{what} failed ({' '.join(map(str, command))}): {' / '.join(tail)}")
    return done.stdout.strip()


def resolve(revision: str, repo: Path) -> str:
    """The full commit hash a revision (a branch, a tag, a short hash) names in ``repo``."""
    return _run(["git", "-C", str(repo), "rev-parse", "--verify", f"{revision}^{{commit}}"], f"resolving {revision}")


def this_checkout(repo: Path) -> PinnedCode:
    """The code this interpreter runs, as a commit: refused while the package has uncommitted changes (results
    elsewhere in the checkout may change, as an evidence run's transcripts do)."""
    changed = _run(["git", "-C", str(repo), "status", "--porcelain", "--", *PACKAGE], "reading the checkout")
    if changed:
        raise CheckoutError(f"commit the package first: its code must be a commit, and these differ:\n{changed}")
    return PinnedCode(resolve("HEAD", repo), code_digest(), Path(sys.executable))


def install(root: Path) -> Path:
    """A virtual environment in ``root/.venv`` with the checkout installed (editable); its python."""
    python = root / ".venv" / "bin" / "python"
    _run([sys.executable, "-m", "venv", str(root / ".venv")], "creating the environment")
    _run([str(python), "-m", "pip", "install", "-q", "-e", f"{root}[{EXTRAS}]"], "installing the pinned code",
         env={**os.environ, "CMAKE_ARGS": LLAMA_CPP_CMAKE_ARGS})
    return python


def confirm(python: Path, commit: str) -> PinnedCode:
    """The code ``python`` imports, checked to be ``commit``'s."""
    python = python.absolute()  # not resolved: a virtual environment's python is a link to the base one
    found, code, package = _run([str(python), "-P", "-c", WHO], f"asking {python} for its code",
                                cwd=python.parent).split(maxsplit=2)
    if found != commit:
        raise CheckoutError(f"{python} runs the code of commit {found}, not the plan's {commit}: give --python an "
                            "interpreter with the pinned checkout installed, or none to make one")
    changed = _run(["git", "-C", package, "status", "--porcelain", "--untracked-files=no"], "reading the checkout")
    if changed:
        raise CheckoutError(f"the checkout {python} runs ({package}) has uncommitted changes: it is not the code of "
                            f"commit {commit}")
    return PinnedCode(commit, code, python)


def checkout(commit: str, repo: Path, worktrees: Path | None = None, python: Path | None = None,
             installer: Callable[[Path], Path] = install) -> PinnedCode:
    """The pinned code: ``python`` if given (confirmed), else the worktree of ``commit`` (made and installed
    when missing) and its environment."""
    if python is not None:
        return confirm(python, commit)
    root = (worktrees or default_worktrees()) / commit[:12]
    if not (root / ".git").exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        _run(["git", "-C", str(repo), "worktree", "add", "--detach", str(root), commit], "checking out the commit")
    head = resolve("HEAD", root)
    if head != commit:
        raise CheckoutError(f"{root} is at {head}, not {commit}: remove it (git worktree remove {root}) to check "
                            "the commit out again")
    venv_python = root / ".venv" / "bin" / "python"
    return confirm(venv_python if venv_python.is_file() else installer(root), commit)
