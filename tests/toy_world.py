"""A tiny catalog, tree, recommender tool and program context for testing the DSPy programs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.artifacts.context import ProgramContext
from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.domain.preference_tree import PreferenceTree, TreeNode
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.tool import RecsysTool

from scripted import BagOfWordsEmbedder

GENRES = ["Comedy", "Drama", "Horror", "Science Fiction"]
MOODS = ["funny", "dark", "tense"]
N_ITEMS = 24


def toy_items() -> pd.DataFrame:
    """Item i has genre GENRES[i % 4] and mood MOODS[i % 3]."""
    rows = [
        {"idx": i, "item_id": str(i), "title": f"Film {i} ({1990 + i})", "description": "",
         "attributes": [GENRES[i % 4], MOODS[i % 3]]}
        for i in range(1, N_ITEMS + 1)
    ]
    return pd.DataFrame(rows)


def toy_dataset() -> PreparedDataset:
    items = toy_items()
    sequences = [[(u + k) % N_ITEMS + 1 for k in range(6)] for u in range(12)]
    train = pd.DataFrame({"user": [str(u) for u in range(12)], "sequence": [s[:-2] for s in sequences]})
    valid = pd.DataFrame({"user": train.user, "history": train.sequence, "target": [s[-2] for s in sequences]})
    test = pd.DataFrame({"user": train.user, "history": [s[:-1] for s in sequences], "target": [s[-1] for s in sequences]})
    report = {"data_key": "toy", "users": 12, "interactions": 72, "notes": []}
    return PreparedDataset("ml-latest-small", items, train, valid, test, report)


def toy_tree(items: pd.DataFrame) -> PreferenceTree:
    """root → Genre > Main > genres, Mood > Feel > moods; Comedy has two item groups."""
    def holders(name):
        return tuple(int(i) for i, attrs in zip(items.idx, items.attributes) if name in attrs)

    nodes = [TreeNode(0, "movies", 0, None), TreeNode(1, "Genre", 1, 0), TreeNode(2, "Main genres", 2, 1)]
    nodes += [TreeNode(3 + k, g, 3, 2, holders(g)) for k, g in enumerate(GENRES)]
    nodes += [TreeNode(7, "Mood", 1, 0), TreeNode(8, "Feel", 2, 7)]
    nodes += [TreeNode(9 + k, m, 3, 8, holders(m)) for k, m in enumerate(MOODS)]
    comedy = holders("Comedy")
    nodes += [TreeNode(12, "Romantic comedy", 4, 3, comedy[:3]), TreeNode(13, "Slapstick", 4, 3, comedy[3:])]
    return PreferenceTree(nodes, n_items=len(items), meta={"dataset": {"data_key": "toy"}})


def toy_tool(dataset: PreparedDataset, tree: PreferenceTree) -> RecsysTool:
    torch.manual_seed(0)
    model = SASRec(dataset.n_items, SASRecConfig(max_len=10, hidden_size=16, n_blocks=1))
    preference = ItemIndex.from_mapping(tree.item_mapping(), dataset.n_items)
    return RecsysTool(model.eval(), preference, ItemIndex.from_item_attributes(dataset.items),
                      np.arange(dataset.n_items + 1, dtype=np.float32))


def write_toy_artifacts(context: ProgramContext, root: Path) -> Path:
    """The toy tree and a stand-in checkpoint where a compiled program's manifest hashes them; returns ``root``."""
    context.tree.save(root / "ml-latest-small" / "tree" / "tree.json")
    (root / "ml-latest-small" / "sasrec").mkdir(parents=True)
    (root / "ml-latest-small" / "sasrec" / "model.pt").write_bytes(b"toy weights")
    (root / "ml-latest-small" / "sasrec" / "config.json").write_text("{}")
    return root


def toy_context(folder: Path) -> ProgramContext:
    dataset = toy_dataset()
    tree = toy_tree(dataset.items)
    return ProgramContext(dataset, tree, toy_tool(dataset, tree), BagOfWordsEmbedder(), folder)


__all__ = ["Catalog", "GENRES", "MOODS", "toy_context", "toy_dataset", "toy_items", "toy_tool", "toy_tree",
           "write_toy_artifacts"]
