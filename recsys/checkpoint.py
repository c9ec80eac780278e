"""Saving and loading a trained SASRec as a directory: model.pt, config.json, metrics.json."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.batches import flatten
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_features import ItemFeatures
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.score_prior import PriorWeights

FORMAT_VERSION = 1
MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


def dataset_fingerprint(dataset: PreparedDataset) -> dict:
    """What ties a checkpoint to its data: name, size and a hash of every split's sequences.

    Content only, never file times, so a copy of the same data keeps the checkpoint valid.
    """
    digest = hashlib.sha256()
    columns = [dataset.train["sequence"], dataset.valid["history"], [dataset.valid["target"]],
               dataset.test["history"], [dataset.test["target"]]]
    for column in columns:
        flat, lengths = flatten(list(column))
        digest.update(flat.tobytes())
        digest.update(lengths.tobytes())
    digest.update("\n".join(map(str, dataset.items["item_id"])).encode())
    return {
        "name": dataset.name,
        "n_items": dataset.n_items,
        "content_sha256": digest.hexdigest(),
    }


@dataclass(frozen=True)
class Checkpoint:
    """A trained model with its config, the data it is bound to, its metrics and its score-prior weights
    per scoring ({"dot": PriorWeights, "cosine": PriorWeights}; empty for checkpoints saved before the
    prior: no prior)."""

    model: SASRec
    config: SASRecConfig
    dataset: dict
    metrics: dict
    prior_weights: dict[str, PriorWeights] = field(default_factory=dict)

    def prior(self, scoring: str) -> PriorWeights:
        return self.prior_weights.get(scoring, PriorWeights())


def save_checkpoint(directory: str | Path, model: SASRec, config: SASRecConfig, dataset: dict,
                    metrics: dict, prior_weights: dict[str, PriorWeights] | None = None) -> Path:
    """Write the three files; config.json goes last, so a directory with it is complete."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, directory / MODEL_FILE)
    (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    header = {"format_version": FORMAT_VERSION, "model": "SASRec", "n_items": model.n_items,
              "config": config.to_dict(), "dataset": dataset,
              "score_prior": {scoring: weights.to_dict() for scoring, weights in (prior_weights or {}).items()},
              "item_features": list(model.feature_names)}
    (directory / CONFIG_FILE).write_text(json.dumps(header, indent=2) + "\n")
    return directory


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from a directory written by :func:`save_checkpoint`."""
    directory = Path(directory)
    if not (directory / CONFIG_FILE).exists():
        raise FileNotFoundError(f"no SASRec checkpoint in {directory} ({CONFIG_FILE} missing)")
    retrain = "retrain it with `afirs-dspy train-recsys --force`"
    try:
        header = json.loads((directory / CONFIG_FILE).read_text())
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"checkpoint format {header.get('format_version')}, expected {FORMAT_VERSION}")
        config = SASRecConfig.from_dict(header["config"])
        n_items = header["n_items"]
        if not isinstance(n_items, int) or n_items < 1:
            raise ValueError(f"n_items {n_items!r} is not a positive count")
        dataset = dict(header["dataset"])
        prior_weights = {str(k): PriorWeights.from_dict(v) for k, v in header.get("score_prior", {}).items()}
        # Saved before the co-occurrence prior: a popularity weight per scoring.
        prior_weights = prior_weights or {str(k): PriorWeights(popularity=float(v))
                                          for k, v in header.get("popularity_prior", {}).items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise ValueError(f"{directory / CONFIG_FILE} is not a valid checkpoint config ({type(exc).__name__}: "
                         f"{exc}); {retrain}") from None
    try:
        state = torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True)
        model = SASRec(n_items, config, saved_features(state, header.get("item_features", [])))
        model.load_state_dict(state)
    except Exception as exc:  # truncated, not a torch file, or weights of another size: torch raises many kinds
        raise ValueError(f"{directory / MODEL_FILE} is unreadable or does not fit {CONFIG_FILE} "
                         f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}); {retrain}") from None
    try:
        metrics = json.loads((directory / METRICS_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{directory / METRICS_FILE} is missing or unreadable ({type(exc).__name__}); "
                         f"{retrain}") from None
    return Checkpoint(model.to(device).eval(), config, dataset, metrics, prior_weights)


def saved_features(state: dict, names: list[str]) -> ItemFeatures | None:
    """The side information a saved model embeds (its feature buffers and their names), or None."""
    if "feature_ids" not in state:
        return None
    offsets = torch.cat([state["feature_offsets"], torch.tensor([state["feature_ids"].numel()])])
    return ItemFeatures(state["feature_ids"].numpy(), offsets.numpy(), tuple(names))


def mismatch(checkpoint: Checkpoint, dataset: PreparedDataset, config: SASRecConfig | None = None) -> str | None:
    """Why ``checkpoint`` does not belong to ``dataset`` (and ``config``, if given), or None if it does."""
    expected = dataset_fingerprint(dataset)
    changed = [key for key in expected if checkpoint.dataset.get(key) != expected[key]]
    if changed:
        return f"it was trained on different data ({', '.join(changed)} differ)"
    if config is not None and checkpoint.config != config:
        old, new = checkpoint.config.to_dict(), config.to_dict()
        diffs = [f"{key} {old[key]} -> {new[key]}" for key in new if old[key] != new[key]]
        return f"the training config changed ({'; '.join(diffs)})"
    if config is not None and not checkpoint.prior_weights:
        return "it has no score-prior weights (saved by an older version)"
    return None
