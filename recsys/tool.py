"""The recommendation tool the AF-IRS program calls: two-stage filtering (paper §4.1.3).

Stage 1 (preference-based): the items carrying every session preference, the
intersection of their sets in an :class:`ItemIndex` (eq. 3). Stage 2
(collaboration-based): those items ranked by the cosine between the SASRec user
embedding and each item embedding (eq. 4-5), plus the checkpoint's score prior (popularity and
co-occurrence with the history, weights chosen on validation, 0 where they do not help;
``score_prior``), top k kept.

When fewer than k unseen items satisfy all preferences: given ``parents`` (key →
parent key, e.g. a preference tree's edges; the tool knows nothing of trees),
the other items are ranked by their grade — how many preferences they hold, an
item under a preference's parent counting half ("scary" → its subcategory) —
then by score ("partial"), then plain SASRec ("sasrec"). Without ``parents``
the least specific preference (the one with the most items) is dropped and the
intersection recomputed, repeatedly ("relaxed-j"), then plain SASRec ranking
fills the slots left. Each returned item records the stage it came from.
Preferences that are not keys of the index are ignored and listed in the result.
Items in the history, or in a call's ``exclude_items``, are never returned. An empty history has no user embedding
(SASRec masks padding out), so items are then ranked by training popularity.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from dspy.utils.callback import with_callbacks

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.item_index import ItemIndex, normalize_key
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity_prior import popularity_prior, training_counts
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.score_prior import ScorePrior
from afirs_dspy.recsys.threads import torch_threads
from afirs_dspy.utils.shared_resource import SharedResource

PREFERENCES = "preferences"
SASREC = "sasrec"
ATTRIBUTE_FILTER = "attribute-filter"


PARTIAL = "partial"
PARENT_CREDIT = 0.5  # an item under a preference's parent (scary → its subcategory) holds it half
AVOID_OFFSET = 1e6  # subtracted from an avoided item's score for ranking: below every other finite score


def relaxed_stage(step: int) -> str:
    """Name of the stage after dropping ``step`` preferences."""
    return f"relaxed-{step}"


@dataclass(frozen=True)
class Recommendation:
    """A ranked list from the tool and how it was produced.

    ``stages[i]`` names the stage that produced ``items[i]``: "preferences" (all
    preferences hold), "partial" (some hold, or their parents; ranked by grade),
    "relaxed-j" (all but ``relaxed[:j]`` hold), "sasrec" (no filter) or
    "attribute-filter". ``scores`` are cosine
    similarities (plus the score prior, if any), or training counts when ``scored_by == "popularity"`` (empty
    history). ``preferences``: the known keys applied first (required attributes
    for the hard filter); ``relaxed``: the keys dropped, in order; ``widened``:
    (key, parent) for each preference whose parent counted in the grade; ``steps``:
    how the list was made, in words; ``ignored``: keys not in the index; ``note``: a plain-language
    account of all of it.
    """

    items: tuple[int, ...]
    scores: tuple[float, ...]
    stages: tuple[str, ...]
    preferences: tuple[str, ...]
    relaxed: tuple[str, ...]
    ignored: tuple[str, ...]
    scored_by: str
    note: str
    widened: tuple[tuple[str, str], ...] = ()
    steps: tuple[str, ...] = ()

    def stage_counts(self) -> dict[str, int]:
        """How many items each stage contributed, in ranking order."""
        return {stage: self.stages.count(stage) for stage in dict.fromkeys(self.stages)}


def top_k(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The up to ``k`` candidates with the highest finite scores, best first."""
    values = scores[candidates]
    if k < values.size:
        # -inf (excluded) sorts below everything, so it only survives when finite ones run out.
        part = np.argpartition(values, values.size - k)[values.size - k:]
        candidates, values = candidates[part], values[part]
    order = np.argsort(-values, kind="stable")
    return candidates[order[np.isfinite(values[order])]]


def _join(keys: Sequence[str]) -> str:
    return ", ".join(repr(key) for key in keys)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _split_known(keys: Sequence[str], index: ItemIndex) -> tuple[list[str], list[str]]:
    """(keys in the index, keys not in it), each once, spelled as first given."""
    first: dict[str, str] = {}
    for key in keys:
        first.setdefault(normalize_key(key), key)
    unique = list(first.values())
    return [key for key in unique if key in index], [key for key in unique if key not in index]


class RecsysTool(SharedResource):
    """User/item embeddings and filtered top-k recommendation over one catalog.

    ``preference_index`` maps session preferences (preference-tree nodes) to
    items; ``attribute_index`` maps predefined item attributes to items for the
    hard filter. ``popularity`` (length n_items + 1) ranks empty histories; ``prior`` (the checkpoint's
    ``ScorePrior``) is added to every cosine, or without it, with ``prior_weight`` > 0, the popularity prior.
    ``threads``: torch threads per call (see :func:`torch_threads`); None keeps torch's setting.
    """

    def __init__(self, model: SASRec, preference_index: ItemIndex, attribute_index: ItemIndex,
                 popularity: np.ndarray, device: str = "cpu", threads: int | None = 1, prior_weight: float = 0.0,
                 prior: ScorePrior | None = None):
        self.ranker = SASRecRanker(model, device, scoring="cosine",
                                   prior=popularity_prior(popularity, prior_weight) if prior is None else prior)
        self.threads = threads
        self.n_items = model.n_items
        for name, index in (("preference_index", preference_index), ("attribute_index", attribute_index)):
            if index.n_items != self.n_items:
                raise ValueError(f"{name} covers {index.n_items} items, the model {self.n_items}")
        self.preference_index = preference_index
        self.attribute_index = attribute_index
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self._items = self.ranker.items.cpu().numpy().copy()  # with side information: id + feature embeddings
        self._items.flags.writeable = False

    @classmethod
    def from_dataset(cls, model: SASRec, dataset: PreparedDataset, preference_index: ItemIndex | None = None,
                     device: str = "cpu", prior_weight: float = 0.0, prior: ScorePrior | None = None) -> RecsysTool:
        """Attribute index and popularity from ``dataset`` (from ``prior``'s counts, the sequences the model
        was trained on, when given); preferences default to the attributes."""
        attributes = ItemIndex.from_item_attributes(dataset.items)
        return cls(model, attributes if preference_index is None else preference_index, attributes,
                   training_counts(dataset) if prior is None else prior.counts, device, prior_weight=prior_weight,
                   prior=prior)

    def user_embedding(self, history: Sequence[int]) -> np.ndarray:
        """Last position's hidden state over the newest max_len items; zeros for an empty history."""
        with torch_threads(self.threads):
            return self.ranker.user_embeddings([list(history)])[0].cpu().numpy()

    def item_embeddings(self) -> np.ndarray:
        """(n_items + 1, hidden) read-only item embedding table; row 0 is padding."""
        return self._items

    def scores(self, history: Sequence[int]) -> tuple[np.ndarray, str]:
        """Per-item scores (cosine, or popularity for an empty history), -inf for padding and history."""
        history = np.asarray(history, dtype=np.int64).reshape(-1)
        if history.size and (history.min() < 1 or history.max() > self.n_items):
            raise ValueError(f"history item indices must lie in 1..{self.n_items}")
        if history.size:
            with torch_threads(self.threads):
                scores, scored_by = self.ranker.scores([history])[0].cpu().numpy(), "cosine"
        else:
            scores, scored_by = self.popularity.copy(), "popularity"
        scores[0] = -np.inf
        scores[history] = -np.inf
        return scores, scored_by

    @with_callbacks  # DSPy callbacks (progress lines, tracing) see the tool's calls as module calls
    def recommend(self, history: Sequence[int], preferences: Sequence[str] | None = None,
                  k: int = 50, parents: Mapping[str, str] | None = None, exclude_items: Sequence[int] = (),
                  avoid_items: Sequence[int] = ()) -> Recommendation:
        """Top-k unseen items satisfying the session preferences (or plain SASRec ranking without any).
        Too few: with ``parents`` (key → parent key) the rest are ranked by how many preferences they
        hold, a parent's items counting half; without, preferences are dropped one at a time. Items in
        ``exclude_items`` are never returned (a session's rejected items, its critiques); items in
        ``avoid_items`` come after every other item that holds as many preferences ("something different")."""
        _check_k(k)
        known, ignored = _split_known(preferences or (), self.preference_index)
        scores, scored_by = self.scores(history)
        scores[np.asarray(exclude_items, dtype=np.int64)] = -np.inf
        rank = scores.copy()
        rank[np.asarray(avoid_items, dtype=np.int64)] -= AVOID_OFFSET
        if parents is not None and known:
            return self._graded(scores, rank, known, parents, k, ignored, scored_by)
        picked: list[np.ndarray] = []
        picked_scores: list[np.ndarray] = []
        stages: list[str] = []
        notes: list[str] = []
        relaxed: list[str] = []
        # Least specific first: the preference with the largest item set is dropped first.
        relax_order = sorted(known, key=lambda p: -self.preference_index.size(p))
        for step in range(len(known) + 1):
            active = [p for p in known if p not in relaxed]
            stage = SASREC if not active else PREFERENCES if step == 0 else relaxed_stage(step)
            need = k - sum(len(p) for p in picked)
            chosen = top_k(rank, self.preference_index.intersection(active), need)
            picked.append(chosen)
            picked_scores.append(scores[chosen])
            rank[chosen] = -np.inf  # taken; the next, wider stage must not repeat them
            stages += [stage] * len(chosen)
            notes.append(_stage_note(stage, active, relaxed, len(chosen)))
            if len(chosen) == need or not active:
                break
            relaxed.append(relax_order[step])
            notes.append(f"Fewer than k={k} so far: dropped {relaxed[-1]!r}, the least specific "
                         f"preference ({self.preference_index.size(relaxed[-1])} items).")
        items = np.concatenate(picked)
        if len(items) < k:
            notes.append(f"Only {len(items)} items are left to rank (unseen, not excluded), fewer than k={k}.")
        return _result(items, np.concatenate(picked_scores), stages, known, relaxed, ignored, scored_by, notes)

    def _graded(self, scores: np.ndarray, rank: np.ndarray, known: list[str], parents: Mapping[str, str], k: int,
                ignored: list[str], scored_by: str) -> Recommendation:
        """Items ranked by their grade — 1 per preference they hold, ``PARENT_CREDIT`` per preference
        whose parent they hold instead — then by ``rank`` (the score, avoided items last): the full
        intersection first (eq. 3), and no preference is lost when the intersection is empty ("scary" ∩
        "zombies" ∩ "funny" = ∅ still puts the zombie comedies, which hold two of them, first)."""
        grade = np.zeros(len(scores), dtype=np.float32)
        widened: list[tuple[str, str]] = []
        for key in known:
            exact = np.zeros(len(scores), dtype=bool)
            exact[self.preference_index.items_for(key)] = True
            grade += exact
            parent = parents.get(key)
            if parent is not None and parent in self.preference_index:
                wide = np.zeros(len(scores), dtype=bool)
                wide[self.preference_index.items_for(parent)] = True
                grade += PARENT_CREDIT * (wide & ~exact)
                widened.append((key, parent))
        order = np.lexsort((-rank, -grade))  # grade first, then score
        items = order[np.isfinite(scores[order])][:k]
        stages = np.where(grade[items] >= len(known), PREFERENCES, np.where(grade[items] > 0, PARTIAL, SASREC))
        counts = {stage: int((stages == stage).sum()) for stage in (PREFERENCES, PARTIAL, SASREC)}
        steps = [f"{counts[PREFERENCES]} items hold every preference ({_join(known)})"]
        if counts[PARTIAL] or counts[SASREC]:
            steps.append(f"{counts[PARTIAL]} more hold some, ranked by how many (an item under a preference's "
                         f"parent counts {PARENT_CREDIT:g}: {', '.join(f'{c!r} → {p!r}' for c, p in widened) or 'none'})")
        if counts[SASREC]:
            steps.append(f"{counts[SASREC]} by plain SASRec ranking")
        notes = [f"{step[0].upper()}{step[1:]}." for step in steps]
        if len(items) < k:
            notes.append(f"Only {len(items)} items are left to rank (unseen, not excluded), fewer than k={k}.")
        return _result(items, scores[items], stages.tolist(), known, [], ignored, scored_by, notes, widened, steps)

    @with_callbacks
    def recommend_with_attribute_filter(self, history: Sequence[int], attributes: Sequence[str],
                                        k: int = 50, exclude: Sequence[str] = (), exclude_items: Sequence[int] = ()
                                        ) -> Recommendation:
        """InteRecAgent-style hard filter: unseen items with every attribute and none of ``exclude``, none of
        ``exclude_items``.

        Set logic on the attribute index, no SQL. Nothing is relaxed or filled:
        fewer than k matches give a shorter list, and the note says so.
        """
        _check_k(k)
        required, ignored = _split_known(attributes, self.attribute_index)
        excluded, ignored_excluded = _split_known(exclude, self.attribute_index)
        ignored += ignored_excluded
        scores, scored_by = self.scores(history)
        scores[self.attribute_index.union(excluded)] = -np.inf
        scores[np.asarray(exclude_items, dtype=np.int64)] = -np.inf
        items = top_k(scores, self.attribute_index.intersection(required), k)
        notes = [f"Hard filter (all of {_join(required) or 'no attributes'}"
                 + (f"; none of {_join(excluded)}" if excluded else "") + f"): {len(items)} items."]
        if len(items) < k:
            notes.append(f"Only {len(items)} unseen items pass the filter, fewer than k={k}; nothing was relaxed.")
        return _result(items, scores[items], [ATTRIBUTE_FILTER] * len(items), required, [], ignored,
                       scored_by, notes)


def _stage_note(stage: str, active: list[str], relaxed: list[str], count: int) -> str:
    if stage == SASREC:
        return f"Plain SASRec ranking (no preference filter): {count} items."
    dropped = f" without {_join(relaxed)}" if relaxed else ""
    return f"Preferences {_join(active)}{dropped}: {count} items."


def _result(items: np.ndarray, scores: np.ndarray, stages: list[str], preferences: list[str],
            relaxed: list[str], ignored: list[str], scored_by: str, notes: list[str],
            widened: list[tuple[str, str]] = (), steps: list[str] = ()) -> Recommendation:
    if ignored:
        notes.append(f"Ignored, not in the index: {_join(ignored)}.")
    if scored_by == "popularity":
        notes.append("Empty history: ranked by popularity instead of cosine similarity.")
    return Recommendation(
        items=tuple(items.tolist()),
        scores=tuple(scores.tolist()),
        stages=tuple(stages),
        preferences=tuple(preferences),
        relaxed=tuple(relaxed),
        ignored=tuple(ignored),
        scored_by=scored_by,
        note=" ".join(notes),
        widened=tuple(widened),
        steps=tuple(steps),
    )
