"""Training SASRec on a prepared dataset, with early stopping on validation NDCG@10."""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.batches import bucketed_batches, left_pad, trim_padding
from afirs_dspy.recsys.checkpoint import dataset_fingerprint
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.item_features import item_features
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.refit import refit_sequences
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.seeding import seed_everything
from afirs_dspy.recsys.training_state import TrainingState, copied, load_training_state, save_training_state

STOP_METRIC = "NDCG@10"


@dataclass
class TrainingResult:
    """The best model (by validation NDCG@10) and how training went.

    ``epochs`` holds one dict per epoch: epoch, loss, seconds (training steps
    only) and, on evaluated epochs, the validation metrics.
    """

    model: SASRec
    config: SASRecConfig
    best_epoch: int
    best_valid: dict[str, float]
    epochs: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    total_seconds: float = 0.0   # of this run (a resumed training's earlier runs not included)
    resumed_after: int = 0       # the epoch a saved training state was resumed after (0: none)

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / max(len(self.epochs), 1)


def windows_of(sequence, max_len: int) -> list:
    """``sequence`` cut from its end into windows of up to max_len + 1 items, each overlapping the next
    by one item, so every item after the first is a target exactly once (windows under two items dropped)."""
    return [sequence[max(0, end - max_len - 1):end] for end in range(len(sequence), 1, -max_len)]


def training_array(sequences, max_len: int, windows: bool = False) -> np.ndarray:
    """(N, max_len + 1) left-padded sequences with at least two items: inputs are [:, :-1], targets [:, 1:].

    A longer sequence gives its newest max_len + 1 items, or with ``windows`` all its windows (``windows_of``).
    """
    if windows:
        usable = [w for s in sequences for w in windows_of(list(s), max_len)]
    else:
        usable = [s for s in sequences if len(s) >= 2]
    return left_pad(usable, max_len + 1)


def sequence_loss(model: SASRec, batch: torch.Tensor, config: SASRecConfig) -> torch.Tensor:
    """Next-item loss at every non-padding position of every prefix, in one forward pass."""
    inputs, targets = batch[:, :-1], batch[:, 1:]
    valid = inputs != 0
    table = model.item_table()  # once per batch: with features it is a sum over every item's features
    hidden = model(inputs, table)[valid]
    targets = targets[valid]
    if config.loss == "ce":
        logits = model.item_logits(hidden, table)
        logits[:, 0] = -torch.inf  # padding is never the answer
        return F.cross_entropy(logits, targets)
    # Uniform negatives over all items except the positive: draw from n-1 and skip it.
    negatives = torch.randint(1, model.n_items, (targets.size(0), config.n_negatives), device=batch.device)
    negatives += (negatives >= targets.unsqueeze(1)).long()
    pos_logits = (hidden * table[targets]).sum(-1)
    neg_logits = torch.einsum("nd,nkd->nk", hidden, table[negatives])
    return (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits))
            + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits)))


def train_sasrec(dataset: PreparedDataset, config: SASRecConfig, device: str | torch.device = "cpu",
                 progress: bool = True, state_path: str | os.PathLike | None = None,
                 save_every: float = 60.0, refit_epochs: int | None = None) -> TrainingResult:
    """Train on ``dataset.train`` and keep the epoch with the best validation NDCG@10.

    Patience counts evaluations without improvement (one every ``eval_every`` epochs). With ``state_path``
    the training up to the last finished epoch is saved there (``training_state``) every ``save_every``
    seconds, on Ctrl-C and at the end, and a state saved for the same data and config is resumed.
    With ``refit_epochs`` (the best epoch of a validated training) the model is trained instead on the
    training sequences with the validation targets (``refit_sequences``) for exactly that many epochs,
    without validation (it has seen the validation targets), and the last epoch is kept.
    """
    started = time.perf_counter()
    rng = seed_everything(config.seed)
    device = torch.device(device)
    features = item_features(dataset.items) if config.item_features else None
    model = SASRec(dataset.n_items, config, features).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sequences = dataset.train["sequence"] if refit_epochs is None else refit_sequences(dataset)
    data = training_array(sequences, config.max_len, config.windows)
    last_epoch = config.max_epochs if refit_epochs is None else refit_epochs
    if not len(data):
        raise ValueError(f"{dataset.name}: no training sequence has two or more items")
    lengths = (data != 0).sum(1)

    result = TrainingResult(model=model, config=config, best_epoch=0, best_valid={})
    best_state, stale = None, 0
    saved = None
    if state_path is not None:
        binding = {"dataset": dataset_fingerprint(dataset), "config": config.to_dict()}
        if refit_epochs is not None:
            binding["refit_epochs"] = refit_epochs
        saved = load_training_state(state_path, binding)
    if saved is not None:
        model.load_state_dict(saved.model)
        optimizer.load_state_dict(saved.optimizer)
        rng.bit_generator.state = saved.numpy_rng
        torch.set_rng_state(saved.torch_rng)
        if saved.cuda_rng is not None and device.type == "cuda":
            torch.cuda.set_rng_state_all(saved.cuda_rng)
        best_state, stale, result.resumed_after = saved.best_state, saved.stale, saved.epoch
        result.best_epoch, result.best_valid, result.epochs = saved.best_epoch, saved.best_valid, saved.epochs
        result.train_seconds = saved.train_seconds
    bar = tqdm(range(result.resumed_after + 1, last_epoch + 1), initial=result.resumed_after, total=last_epoch,
               desc=f"SASRec {dataset.name}" + (" (refit on train + valid)" if refit_epochs else ""),
               unit="epoch", disable=not progress)
    snapshot, last_saved = None, time.perf_counter()
    try:
        for epoch in bar:
            if stale >= config.patience:
                break
            tick = time.perf_counter()
            model.train()
            losses = []
            for rows in bucketed_batches(lengths, config.batch_size, rng):
                batch = torch.from_numpy(trim_padding(data[rows])).to(device)
                loss = sequence_loss(model, batch, config)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            log = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - tick}
            result.train_seconds += log["seconds"]
            result.epochs.append(log)
            postfix = {"loss": f"{log['loss']:.4f}"}
            if refit_epochs is None and (epoch % config.eval_every == 0 or epoch == last_epoch):
                log["valid"] = evaluate(SASRecRanker(model, device), dataset.valid)
                score = log["valid"][STOP_METRIC]
                if best_state is None or score > result.best_valid[STOP_METRIC]:
                    best_state = copy.deepcopy(model.state_dict())
                    result.best_epoch, result.best_valid, stale = epoch, log["valid"], 0
                else:
                    stale += 1
                postfix.update({"val_ndcg@10": f"{score:.4f}", "best": f"{result.best_valid[STOP_METRIC]:.4f}"})
            bar.set_postfix(postfix)
            if state_path is None:
                continue
            # A copy in memory every epoch (milliseconds), on disk every ``save_every`` seconds and on Ctrl-C.
            snapshot = TrainingState(
                epoch, copied(model.state_dict()), copied(optimizer.state_dict()), best_state,
                result.best_epoch, result.best_valid, stale, list(result.epochs), result.train_seconds,
                rng.bit_generator.state, torch.get_rng_state(),
                torch.cuda.get_rng_state_all() if device.type == "cuda" else None)
            if time.perf_counter() - last_saved >= save_every:
                save_training_state(state_path, snapshot, binding)
                last_saved = time.perf_counter()
    except KeyboardInterrupt:
        if snapshot is not None:
            save_training_state(state_path, snapshot, binding)
        raise
    bar.close()
    if snapshot is not None:  # a finished training resumes as finished
        save_training_state(state_path, snapshot, binding)
    if refit_epochs is None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = refit_epochs
    model.eval()
    result.total_seconds = time.perf_counter() - started
    return result
