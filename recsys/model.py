"""The SASRec network (Kang & McAuley 2018): causal self-attention over item sequences."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_features import ItemFeatures


def attention_mask(valid: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) bool, True where query i may attend to key j: j <= i and j is an item.

    A padding query has no valid key before it, so it attends to itself only;
    this keeps softmax finite and its output is zeroed afterwards anyway.
    """
    t = valid.size(1)
    causal = torch.ones(t, t, dtype=torch.bool, device=valid.device).tril()
    eye = torch.eye(t, dtype=torch.bool, device=valid.device)
    return ((causal & valid[:, None, :]) | eye).unsqueeze(1)


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden_size: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then x + feed-forward(norm(x))."""

    def __init__(self, hidden_size: int, n_heads: int, dropout: float):
        super().__init__()
        self.attn_norm = nn.LayerNorm(hidden_size)
        self.attn = CausalSelfAttention(hidden_size, n_heads, dropout)
        self.ffn_norm = nn.LayerNorm(hidden_size)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_size, hidden_size),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.attn_norm(x), mask))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


class SASRec(nn.Module):
    """Item + positional embeddings, causal blocks, and the item table reused for scoring.

    Input: (B, T) item indices, left-padded with 0, T <= max_len. Positions count
    from the right (the last column is always position max_len - 1), so a batch
    may be cut to its longest sequence without changing any output.

    With ``features`` (side information, ``item_features``) an item is its id embedding plus the mean
    embedding of its features (SASRec with features, as in FDSA's feature sum): an item seen a few times
    in training borrows what its tags learnt from every other item that carries them.
    """

    def __init__(self, n_items: int, config: SASRecConfig, features: ItemFeatures | None = None):
        super().__init__()
        self.n_items = n_items
        self.max_len = config.max_len
        self.item_emb = nn.Embedding(n_items + 1, config.hidden_size, padding_idx=0)
        self.pos_emb = nn.Embedding(config.max_len, config.hidden_size)
        self.emb_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.hidden_size, config.n_heads, config.dropout)
            for _ in range(config.n_blocks)
        )
        self.final_norm = nn.LayerNorm(config.hidden_size)
        self.scale = math.sqrt(config.hidden_size)
        self.feature_emb = None
        self.feature_names: tuple[str, ...] = () if features is None else features.names
        if features is not None:
            if features.n_items != n_items:
                raise ValueError(f"features cover {features.n_items} items, the model {n_items}")
            # Empty bags (padding, items without kept features) give zero vectors.
            self.feature_emb = nn.EmbeddingBag(features.n_features, config.hidden_size, mode="mean")
            self.register_buffer("feature_ids", torch.tensor(features.ids, dtype=torch.long))
            self.register_buffer("feature_offsets", torch.tensor(features.offsets[:-1], dtype=torch.long))
        # Unit-scale inputs after the sqrt(d) factor, and logits of order 1 at the start.
        for table in (self.item_emb, self.pos_emb, self.feature_emb):
            if table is not None:
                nn.init.normal_(table.weight, std=1 / self.scale)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def item_table(self) -> torch.Tensor:
        """(n_items + 1, hidden) item representations, for input and scoring alike; row 0 is zero."""
        if self.feature_emb is None:
            return self.item_emb.weight
        return self.item_emb.weight + self.feature_emb(self.feature_ids, self.feature_offsets)

    def forward(self, items: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states (B, T, hidden); row b, column t summarises items[b, :t + 1]; zero at padding.

        ``table``: ``item_table()`` when the caller has it already (training scores with it too).
        """
        t = items.size(1)
        if t > self.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len {self.max_len}")
        table = self.item_table() if table is None else table
        valid = items != 0
        keep = valid.unsqueeze(-1).to(table.dtype)
        positions = torch.arange(self.max_len - t, self.max_len, device=items.device)
        x = self.emb_dropout(F.embedding(items, table, padding_idx=0) * self.scale + self.pos_emb(positions)) * keep
        mask = attention_mask(valid)
        for block in self.blocks:
            x = block(x, mask) * keep
        return self.final_norm(x) * keep

    def item_logits(self, hidden: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Dot-product scores of hidden states against every index (column 0 is padding)."""
        return hidden @ (self.item_table() if table is None else table).T
