"""Scoring user histories with a trained SASRec model (inference only)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from afirs_dspy.recsys.batches import left_pad, trim_padding
from afirs_dspy.recsys.model import SASRec

SCORINGS = ("dot", "cosine")


class SASRecRanker:
    """User embeddings and full-catalog scores for batches of histories.

    The user embedding is the last position's hidden state over the newest
    ``max_len`` items. An empty history gives the zero vector (the model masks
    padding out entirely), so its scores are all 0. ``prior`` (n_items + 1), when given, is added to
    every row of scores (the popularity prior, see ``popularity_prior``).
    """

    def __init__(self, model: SASRec, device: str | torch.device = "cpu", scoring: str = "dot",
                 prior: torch.Tensor | None = None):
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.scoring = scoring
        self.prior = None if prior is None else prior.to(self.device)
        # Inference only: the weights are fixed, so normalise the item table once.
        self.unit_items = F.normalize(model.item_emb.weight.detach(), dim=1) if scoring == "cosine" else None

    @torch.inference_mode()
    def user_embeddings(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        padded = trim_padding(left_pad(histories, self.model.max_len))
        items = torch.from_numpy(padded).to(self.device)
        return self.model(items)[:, -1]

    @torch.inference_mode()
    def scores(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """(B, n_items + 1) scores: dot product (what SASRec is trained for) or cosine (paper eq. 4), plus the prior."""
        users = self.user_embeddings(histories)
        if self.scoring == "dot":
            scores = self.model.item_logits(users)
        else:
            scores = F.normalize(users, dim=1) @ self.unit_items.T
        return scores if self.prior is None else scores + self.prior
