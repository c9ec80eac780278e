"""The paper's preprocessing (section 5.1.1): rating filter, iterative k-core, chronological leave-one-out."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from afirs_dspy.data.errors import DataError
from afirs_dspy.data.sources.common import clean_attributes
from afirs_dspy.data.tables import PreparedDataset, RawDataset

ITEM_COLUMNS = ["idx", "item_id", "title", "description", "attributes"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Interactions rated below ``min_rating`` are dropped (where ratings exist); users and items
    with fewer than ``core`` interactions are removed repeatedly until none is left."""

    min_rating: float = 3.0
    core: int = 10

    def __post_init__(self):
        if self.core < 1:
            raise ValueError("core must be at least 1")


def _natural_key(value: str):
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _counts(frame: pd.DataFrame, stage: str) -> dict:
    return {"stage": stage, "users": int(frame.user.nunique()), "items": int(frame["item"].nunique()), "interactions": len(frame)}


def k_core(frame: pd.DataFrame, core: int) -> pd.DataFrame:
    """Drop users and items with fewer than ``core`` interactions until every one has at least that many."""
    while True:
        keep = (frame.user.map(frame.user.value_counts()) >= core) & (frame["item"].map(frame["item"].value_counts()) >= core)
        if keep.all():
            return frame
        frame = frame[keep]


def _item_table(catalog: pd.DataFrame, item_ids: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Items in natural id order, numbered from 1 (0 is padding)."""
    ordered = sorted(item_ids, key=_natural_key)
    index = {item: i + 1 for i, item in enumerate(ordered)}
    table = catalog.set_index("item").loc[ordered].reset_index()
    table.insert(0, "idx", np.arange(1, len(ordered) + 1))
    table = table.rename(columns={"item": "item_id"})[ITEM_COLUMNS]
    return table, index


def _with_user_attributes(catalog: pd.DataFrame, given: pd.DataFrame, held_out: set[tuple[str, str]]) -> tuple[pd.DataFrame, int]:
    """The catalog with the attributes users gave items appended, except those given in a held-out
    interaction; also how many (user, item, attribute) rows were left out for that reason."""
    kept = ~pd.Series([pair in held_out for pair in zip(given.user, given["item"])], index=given.index, dtype=bool)
    extra = given[kept].groupby("item", sort=False).attribute.agg(list)
    attributes = [clean_attributes(list(a) + extra.get(i, [])) for i, a in zip(catalog["item"], catalog.attributes)]
    return catalog.assign(attributes=attributes), int((~kept).sum())


def _attribute_count(items: pd.DataFrame) -> int:
    return len({a for attrs in items.attributes for a in attrs})


def one_spelling(items: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Each attribute in one spelling across the catalog: the genre "Horror" and the tag "horror" are one
    attribute (the most frequent spelling, ties to the first seen), so no question offers both. Also how many
    spellings were merged away."""
    counts = Counter(a for attributes in items.attributes for a in attributes)
    best: dict[str, str] = {}
    for name, count in counts.items():
        key = name.casefold()
        if key not in best or count > counts[best[key]]:
            best[key] = name
    return items.assign(attributes=[[best[a.casefold()] for a in attributes] for attributes in items.attributes]), \
        len(counts) - len(best)


def _finish(name, items, train, valid, test, stages, notes, config, interactions, has_users) -> PreparedDataset:
    items, merged = one_spelling(items)
    if merged:
        notes = [*notes, f"attributes spelled alike up to case merged into one spelling ({merged} spellings)"]
    report = {
        "dataset": name,
        "config": asdict(config),
        "stages": stages,
        "users": len(test) if has_users else None,
        "sessions": {"valid": len(valid), "test": len(test)},
        "items": len(items),
        "interactions": interactions,
        "attributes": _attribute_count(items),
        "notes": notes,
    }
    return PreparedDataset(name=name, items=items, train=train, valid=valid, test=test, report=report)


def prepare(name: str, raw: RawDataset, config: PreprocessConfig) -> PreparedDataset:
    """Turn a source's raw tables into train/valid/test splits."""
    if raw.windows is not None:
        return _prepare_windows(name, raw, config)
    return _prepare_interactions(name, raw, config)


def _prepare_interactions(name: str, raw: RawDataset, config: PreprocessConfig) -> PreparedDataset:
    frame = raw.interactions.assign(order=np.arange(len(raw.interactions)))
    stages = [_counts(frame, "raw")]
    notes = list(raw.notes)
    if raw.has_ratings:
        frame = frame[frame.rating >= config.min_rating]
        stages.append(_counts(frame, f"rating >= {config.min_rating:g}"))
    else:
        notes.append("no ratings in the source: the rating filter is skipped")
    known = frame["item"].isin(raw.catalog["item"])
    if not known.all():
        frame = frame[known]
        stages.append(_counts(frame, "items with catalog metadata"))
    # Lexicographic multi-key sorts are stable; the file order breaks timestamp ties.
    frame = frame.sort_values(["user", "timestamp", "order"])
    notes.append(
        "chronological order per user; equal timestamps keep the file's order (stable sort)"
        if raw.has_timestamps
        else "the source's order per user"
    )
    repeated = frame.duplicated(["user", "item"], keep="first")
    if repeated.any():
        frame = frame[~repeated]
        stages.append(_counts(frame, "first interaction per user and item"))
    frame = k_core(frame, config.core)
    stages.append(_counts(frame, f"{config.core}-core (users and items)"))
    too_short = frame.user.map(frame.user.value_counts()) < 3
    if too_short.any():
        frame = frame[~too_short]
        stages.append(_counts(frame, "users with at least 3 interactions (train, valid, test)"))
    if frame.empty:
        raise DataError(
            f"{name}: no interactions left after preprocessing (rating >= {config.min_rating:g}, "
            f"{config.core}-core); lower --core or --min-rating, or check the data"
        )

    users, starts = np.unique(frame.user.to_numpy(), return_index=True)
    raw_sequences = np.split(frame["item"].to_numpy(), starts[1:])
    catalog = raw.catalog
    if raw.user_attributes is not None:
        held_out = {(u, s[-k]) for u, s in zip(users, raw_sequences) for k in (1, 2)}
        catalog, dropped = _with_user_attributes(catalog, raw.user_attributes, held_out)
        notes.append(
            f"user-given attributes (tags) added to items, except {dropped} given by a user to their own "
            "valid or test target (evidence of the held-out interaction)"
        )
    items, index = _item_table(catalog, frame["item"].unique().tolist())
    sequences = [[index[i] for i in s] for s in raw_sequences]
    train = pd.DataFrame({"user": users, "sequence": [s[:-2] for s in sequences]})
    valid = pd.DataFrame({"user": users, "history": train.sequence, "target": [s[-2] for s in sequences]})
    test = pd.DataFrame({"user": users, "history": [s[:-1] for s in sequences], "target": [s[-1] for s in sequences]})
    notes.append("leave-one-out: last interaction = test target, second last = valid target, the rest = training")
    return _finish(name, items, train, valid, test, stages, notes, config, len(frame), has_users=True)


def _prepare_windows(name: str, raw: RawDataset, config: PreprocessConfig) -> PreparedDataset:
    windows = raw.windows
    known = set(raw.catalog["item"])
    keep = windows.target.isin(known)
    windows = windows[keep]
    histories = windows.history.map(lambda h: [i for i in h if i in known])
    notes = list(raw.notes)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} window(s) whose target has no catalog entry dropped")
    if windows.empty:
        raise DataError(f"{name}: no windows with a known target")

    referenced = set(windows.target) | {i for h in histories for i in h}
    items, index = _item_table(raw.catalog, list(referenced))
    tables = {}
    for split in ("train", "valid", "test"):
        part = windows.split == split
        tables[split] = pd.DataFrame(
            {
                "user": [f"{split}-{i}" for i in range(int(part.sum()))],
                "history": [[index[i] for i in h] for h in histories[part]],
                "target": windows.target[part].map(index).to_numpy(),
            }
        )
    train_windows = tables["train"]
    # Training sees every observed past: training windows whole, plus the histories (never the
    # targets) of the valid and test windows.
    sequences = [h + [t] for h, t in zip(train_windows.history, train_windows.target)]
    sequences += [h for split in ("valid", "test") for h in tables[split].history if len(h) >= 2]
    train = pd.DataFrame({"user": [f"train-{i}" for i in range(len(sequences))], "sequence": sequences})
    notes.append(
        "training sequences: the training windows (history + target) plus the histories of the valid "
        "and test windows; their targets are held out"
    )
    notes.append(f"items: the {len(items)} catalog items that occur in some window")
    stages = [{"stage": f"{split} windows", "users": None, "items": None, "interactions": len(tables[split])} for split in tables]
    events = int(histories.map(len).sum()) + len(windows)
    return _finish(name, items, train, tables["valid"], tables["test"], stages, notes, config, events, has_users=False)
