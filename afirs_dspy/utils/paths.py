"""Where prepared data and trained artifacts live (explicit override > env var > default), and the one
layout of a dataset's artifacts folder, which every command and loader reads from here:

    <artifacts>/<dataset>/
        sasrec/                 checkpoint_dir: the recommender's checkpoint (train-recsys)
        sasrec-training.pt      training_state_path: an unfinished training (outside sasrec/, whose files a
                                compiled program's manifest hashes)
        tree/tree.json          tree_dir, tree_file: the preference tree and cached embeddings (build-tree)
        compiled/<name>.json    compiled_dir: compiled programs with their manifests (compile)
        eval/<run>/             eval_dir: evaluation runs, transcripts and tables (eval)
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AFIRS_CACHE_DIR"
ARTIFACTS_ENV = "AFIRS_ARTIFACTS_DIR"
TREE_FILE = "tree.json"

Root = str | os.PathLike | None


def cache_dir(override: Root = None) -> Path:
    """Prepared-dataset cache: ``--cache-dir``, else $AFIRS_CACHE_DIR, else ~/.cache/afirs-dspy."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "afirs-dspy"


def artifacts_dir(override: Root = None) -> Path:
    """Trained models, trees and compiled programs: ``--artifacts-dir``, else $AFIRS_ARTIFACTS_DIR, else ./artifacts."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ARTIFACTS_ENV):
        return Path(os.environ[ARTIFACTS_ENV]).expanduser()
    return Path("artifacts")


def dataset_artifacts(dataset_name: str, artifacts_root: Root = None) -> Path:
    """``<artifacts>/<dataset>``."""
    return artifacts_dir(artifacts_root) / dataset_name


def checkpoint_dir(dataset_name: str, artifacts_root: Root = None) -> Path:
    """``<artifacts>/<dataset>/sasrec``."""
    return dataset_artifacts(dataset_name, artifacts_root) / "sasrec"


def training_state_path(dataset_name: str, artifacts_root: Root = None, refit: bool = False) -> Path:
    """``<artifacts>/<dataset>/sasrec-training.pt`` (``sasrec-refit.pt`` for the refit on train + valid): an
    unfinished training, outside the checkpoint folder, whose files a compiled program's manifest hashes."""
    return dataset_artifacts(dataset_name, artifacts_root) / ("sasrec-refit.pt" if refit else "sasrec-training.pt")


def tree_dir(dataset_name: str, artifacts_root: Root = None) -> Path:
    """``<artifacts>/<dataset>/tree``."""
    return dataset_artifacts(dataset_name, artifacts_root) / "tree"


def tree_file(dataset_name: str, artifacts_root: Root = None) -> Path:
    """``<artifacts>/<dataset>/tree/tree.json``."""
    return tree_dir(dataset_name, artifacts_root) / TREE_FILE


def compiled_dir(dataset_name: str, artifacts_root: Root = None) -> Path:
    """``<artifacts>/<dataset>/compiled``."""
    return dataset_artifacts(dataset_name, artifacts_root) / "compiled"


def eval_dir(dataset_name: str, artifacts_root: Root = None) -> Path:
    """``<artifacts>/<dataset>/eval``."""
    return dataset_artifacts(dataset_name, artifacts_root) / "eval"
