"""Scoring user histories with a trained SASRec model (inference only)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from afirs_dspy.recsys.batches import left_pad, trim_padding
from afirs_dspy.recsys.model import SASRec

SCORINGS = ("dot", "cosine")


class SASRecRanker:
    """User embeddings and full-catalog scores for batches of histories.

    The user embedding is the last position's hidden state over the newest
    ``max_len`` items. An empty history gives the zero vector (the model masks
    padding out entirely), so its scores are all 0. ``prior``, when given, is added to the scores: a tensor
    (n_items + 1) to every row, or a callable (a ``ScorePrior``) that gives each history's row.
    """

    def __init__(self, model: SASRec, device: str | torch.device = "cpu", scoring: str = "dot",
                 prior: torch.Tensor | Callable[[Sequence[Sequence[int]]], torch.Tensor | None] | None = None):
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.scoring = scoring
        self.prior = prior.to(self.device) if isinstance(prior, torch.Tensor) else prior
        # Inference only: the weights are fixed, so build (and normalise) the item table once.
        with torch.inference_mode():
            self.items = model.item_table().detach()
        self.unit_items = F.normalize(self.items, dim=1) if scoring == "cosine" else None

    @torch.inference_mode()
    def user_embeddings(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        padded = trim_padding(left_pad(histories, self.model.max_len))
        items = torch.from_numpy(padded).to(self.device)
        return self.model(items, self.items)[:, -1]

    @torch.inference_mode()
    def scores(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """(B, n_items + 1) scores: dot product (what SASRec is trained for) or cosine (paper eq. 4), plus the prior."""
        users = self.user_embeddings(histories)
        if self.scoring == "dot":
            scores = users @ self.items.T
        else:
            scores = F.normalize(users, dim=1) @ self.unit_items.T
        prior = self.prior(histories) if callable(self.prior) else self.prior
        return scores if prior is None else scores + prior.to(self.device)
