"""From a dataset to the recommender that train-recsys saves, and what it scores.

1. SASRec trains on the training sequences, early-stopping on validation NDCG@10 (``train_sasrec``).
2. The score prior's weights (popularity, co-occurrence) are fitted on validation with that model.
3. With ``config.refit`` a model is trained again for the best epoch count on the training sequences with
   the validation targets (``refit_sequences``), and its prior counts the same sequences: that model scores
   the test split and is saved. Test targets are never trained on, counted, or used to choose anything.
"""
from __future__ import annotations

import time

import torch

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.checkpoint import Checkpoint, dataset_fingerprint
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.machine import machine_info
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.recsys.refit import refit_sequences
from afirs_dspy.recsys.sasrec_ranker import SCORINGS, SASRecRanker
from afirs_dspy.recsys.score_prior import PriorWeights, ScorePrior, fit_prior_weights
from afirs_dspy.recsys.trainer import TrainingResult, train_sasrec


def shipped_sequences(dataset: PreparedDataset, config: SASRecConfig) -> list:
    """The sequences the saved model was trained on, which its score prior counts: with the validation
    targets after a refit."""
    return refit_sequences(dataset) if config.refit else list(dataset.train["sequence"])


def score_prior(dataset: PreparedDataset, config: SASRecConfig, weights: PriorWeights) -> ScorePrior:
    """The prior the saved model's scores get, with ``weights`` (one scoring's, from the checkpoint)."""
    return ScorePrior.from_sequences(shipped_sequences(dataset, config), dataset.n_items, weights)


def train_recommender(dataset: PreparedDataset, config: SASRecConfig, device: torch.device = torch.device("cpu"),
                      progress: bool = True, state_paths: tuple | None = None) -> tuple[Checkpoint, int]:
    """Steps 1-3 above; the checkpoint (not written) holds the final model, its prior weights and the
    evaluation report. ``state_paths`` (validated training, refit): where each training saves its state and
    resumes from. Also return the epoch the validated training was resumed after (0: none)."""
    state_path, refit_path = state_paths or (None, None)
    started = time.perf_counter()
    result = train_sasrec(dataset, config, device, progress=progress, state_path=state_path)
    tick = time.perf_counter()
    fitted = fit_prior_weights(result.model, dataset, ScorePrior.from_sequences(list(dataset.train["sequence"]),
                                                                                dataset.n_items), device)
    seconds = {"validated": result.total_seconds, "prior_fit": time.perf_counter() - tick}
    refit = (train_sasrec(dataset, config, device, progress=progress, state_path=refit_path,
                          refit_epochs=result.best_epoch) if config.refit else None)
    seconds.update(refit=refit.total_seconds if refit else 0.0, total=time.perf_counter() - started)
    final = refit.model if refit else result.model
    metrics = evaluation_report(dataset, result, final, device, fitted, refit, seconds)
    weights = {scoring: PriorWeights.from_dict(fitted[scoring]) for scoring in SCORINGS}
    return Checkpoint(final, config, dataset_fingerprint(dataset), metrics, weights), result.resumed_after


def evaluation_report(dataset: PreparedDataset, result: TrainingResult, final: SASRec, device: torch.device,
                      fitted: dict, refit: TrainingResult | None, seconds: dict) -> dict:
    """Test metrics of ``final`` (the refit, or the validated model itself) with its score prior, by dot
    product and by cosine (the tool's ranking), beside the same without the prior, the validated model
    before the refit, and popularity (counted on the training sequences, and on the final model's);
    validation metrics of the validated model (the refit has seen the validation targets); times (s)."""
    train_prior = ScorePrior.from_sequences(list(dataset.train["sequence"]), dataset.n_items)
    shipped_prior = ScorePrior.from_sequences(shipped_sequences(dataset, result.config), dataset.n_items)

    def ranker(model, prior, scoring):
        return SASRecRanker(model, device, scoring, prior.with_weights(PriorWeights.from_dict(fitted[scoring])))

    return {
        "dataset": dataset.name,
        "trained_on": "train + valid targets (refit)" if refit else "train",
        "valid": evaluate(ranker(result.model, train_prior, "dot"), dataset.valid),
        "test": evaluate(ranker(final, shipped_prior, "dot"), dataset.test),
        "cosine": {"valid": evaluate(ranker(result.model, train_prior, "cosine"), dataset.valid),
                   "test": evaluate(ranker(final, shipped_prior, "cosine"), dataset.test)},
        "without_prior": {"valid": evaluate(SASRecRanker(result.model, device), dataset.valid),
                          "test": evaluate(SASRecRanker(final, device), dataset.test)},
        "before_refit": {scoring: evaluate(ranker(result.model, train_prior, scoring), dataset.test)
                         for scoring in SCORINGS},
        "score_prior": fitted,
        "popularity": {"valid": evaluate(PopularityRanker(train_prior.counts), dataset.valid),
                       "test": evaluate(PopularityRanker(train_prior.counts), dataset.test),
                       "test_final_counts": evaluate(PopularityRanker(shipped_prior.counts), dataset.test)},
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.epochs),
        "refit_epochs": len(refit.epochs) if refit else 0,
        "seconds_per_epoch": result.seconds_per_epoch,
        "train_seconds": result.train_seconds + (refit.train_seconds if refit else 0.0),
        "seconds": seconds,
        "total_seconds": seconds["total"],
        "machine": machine_info(device),
        "epochs": result.epochs,
    }
