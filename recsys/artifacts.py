"""Getting a dataset's trained recommender: load it if it matches, else train and save (where it lives:
``afirs_dspy.utils.paths``)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.utils.paths import checkpoint_dir, training_state_path
from afirs_dspy.recsys.checkpoint import (Checkpoint, dataset_fingerprint, load_checkpoint, mismatch,
                                          save_checkpoint)
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.machine import machine_info
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.recsys.popularity_prior import fit_prior_weights, popularity_prior, training_counts
from afirs_dspy.recsys.sasrec_ranker import SCORINGS, SASRecRanker
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.recsys.trainer import TrainingResult, train_sasrec


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" picks CUDA when present, else CPU; "cuda" without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def evaluation_report(dataset: PreparedDataset, result: TrainingResult, device: torch.device,
                      prior: dict | None = None) -> dict:
    """Valid/test metrics of the trained model (with the popularity prior of ``fit_prior_weights``, if
    given) beside the model without it and popularity, and how training went."""
    counts = training_counts(dataset)
    prior = prior or {}

    def splits(ranker) -> dict:
        return {"valid": evaluate(ranker, dataset.valid), "test": evaluate(ranker, dataset.test)}

    plain = splits(SASRecRanker(result.model, device))
    shipped = splits(SASRecRanker(result.model, device, prior=popularity_prior(counts, prior.get("dot", 0.0))))
    return {
        "dataset": dataset.name,
        **shipped,
        "without_prior": plain,
        "popularity_prior": prior,
        "popularity": splits(PopularityRanker(counts)),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.epochs),
        "seconds_per_epoch": result.seconds_per_epoch,
        "train_seconds": result.train_seconds,
        "total_seconds": result.total_seconds,
        "machine": machine_info(device),
        "epochs": result.epochs,
    }


def train_and_save(dataset: PreparedDataset, config: SASRecConfig, directory: str | os.PathLike,
                   device: torch.device, progress: bool = True,
                   state_path: str | os.PathLike | None = None) -> tuple[Checkpoint, int]:
    """Train (resuming the state at ``state_path``, removed once the checkpoint is saved) and save; also
    return the epoch training was resumed after (0: none)."""
    result = train_sasrec(dataset, config, device, progress=progress, state_path=state_path)
    prior = fit_prior_weights(result.model, dataset, device)
    metrics = evaluation_report(dataset, result, device, prior)
    fingerprint = dataset_fingerprint(dataset)
    weights = {scoring: prior[scoring] for scoring in SCORINGS}
    save_checkpoint(directory, result.model, config, fingerprint, metrics, weights)
    if state_path is not None:
        Path(state_path).unlink(missing_ok=True)
    return Checkpoint(result.model, config, fingerprint, metrics, weights), result.resumed_after


def load_or_train(dataset: PreparedDataset, config: SASRecConfig,
                  artifacts_root: str | os.PathLike | None = None, device: torch.device = torch.device("cpu"),
                  force: bool = False, progress: bool = True, fresh: bool = False) -> tuple[Checkpoint, str]:
    """The checkpoint for ``dataset`` and ``config``, and why it was (re)trained or that it was loaded.

    An existing checkpoint is reused only when both its data fingerprint and its
    config match; otherwise it is retrained and overwritten. Training saves its state after every epoch
    (``training_state_path``) and resumes a state saved for the same data and config, unless ``fresh``.
    """
    directory = checkpoint_dir(dataset.name, artifacts_root)
    state_path = training_state_path(dataset.name, artifacts_root)
    if fresh:
        state_path.unlink(missing_ok=True)
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
    checkpoint, resumed_after = train_and_save(dataset, config, directory, device, progress, state_path)
    return checkpoint, reason + (f"; resumed after epoch {resumed_after} from {state_path}" if resumed_after else "")


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
                                   prior_weight=checkpoint.prior_weight("cosine"))
