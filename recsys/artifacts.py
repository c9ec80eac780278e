"""Getting a dataset's trained recommender: load it if it matches, else train and save (where it lives:
``afirs_dspy.utils.paths``)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.utils.paths import checkpoint_dir, training_state_path
from afirs_dspy.recsys.checkpoint import Checkpoint, load_checkpoint, mismatch, save_checkpoint
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.pipeline import score_prior, train_recommender
from afirs_dspy.recsys.tool import RecsysTool


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" picks CUDA when present, else CPU; "cuda" without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def train_and_save(dataset: PreparedDataset, config: SASRecConfig, directory: str | os.PathLike,
                   device: torch.device, progress: bool = True,
                   state_paths: tuple[str | os.PathLike, str | os.PathLike] | None = None) -> tuple[Checkpoint, int]:
    """Train (``train_recommender``) and save; the training states at ``state_paths`` are removed once the
    checkpoint is saved. Also return the epoch the validated training was resumed after (0: none)."""
    checkpoint, resumed_after = train_recommender(dataset, config, device, progress, state_paths)
    save_checkpoint(directory, checkpoint.model, config, checkpoint.dataset, checkpoint.metrics,
                    checkpoint.prior_weights)
    for path in state_paths or ():
        Path(path).unlink(missing_ok=True)
    return checkpoint, resumed_after


def load_or_train(dataset: PreparedDataset, config: SASRecConfig,
                  artifacts_root: str | os.PathLike | None = None, device: torch.device = torch.device("cpu"),
                  force: bool = False, progress: bool = True, fresh: bool = False) -> tuple[Checkpoint, str]:
    """The checkpoint for ``dataset`` and ``config``, and why it was (re)trained or that it was loaded.

    An existing checkpoint is reused only when both its data fingerprint and its
    config match; otherwise it is retrained and overwritten. Training saves its state after every epoch
    (``training_state_path``) and resumes a state saved for the same data and config, unless ``fresh``.
    """
    directory = checkpoint_dir(dataset.name, artifacts_root)
    state_paths = (training_state_path(dataset.name, artifacts_root),
                   training_state_path(dataset.name, artifacts_root, refit=True))
    if fresh:
        for path in state_paths:
            path.unlink(missing_ok=True)
    if force:
        reason = "retrained (--force)"
    else:
        try:
            existing = load_checkpoint(directory, device)
        except FileNotFoundError:
            reason = "trained (no checkpoint yet)"
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            reason = f"retrained: the checkpoint in {directory} could not be read ({exc})"
        else:
            why = mismatch(existing, dataset, config)
            if why is None:
                return existing, f"loaded from {directory}"
            reason = f"retrained: the checkpoint in {directory} did not match, {why}"
    checkpoint, resumed_after = train_and_save(dataset, config, directory, device, progress, state_paths)
    return checkpoint, reason + (f"; resumed after epoch {resumed_after} from {state_paths[0]}" if resumed_after else "")


def load_tool(dataset: PreparedDataset, artifacts_root: str | os.PathLike | None = None,
              preference_index: ItemIndex | None = None, device: str = "cpu") -> RecsysTool:
    """The recommender tool for ``dataset`` from its saved checkpoint (never trains).

    Raises FileNotFoundError without a checkpoint, ValueError when it belongs to other data.
    """
    directory = checkpoint_dir(dataset.name, artifacts_root)
    checkpoint = load_checkpoint(directory, device)
    why = mismatch(checkpoint, dataset)
    if why is not None:
        raise ValueError(f"the checkpoint in {directory} cannot serve {dataset.name}: {why}; "
                         f"run `afirs-dspy train-recsys --dataset {dataset.name}`")
    return RecsysTool.from_dataset(checkpoint.model, dataset, preference_index, device,
                                   prior=score_prior(dataset, checkpoint.config, checkpoint.prior("cosine")))
