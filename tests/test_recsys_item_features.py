"""Item side information: the features kept from a catalog, and SASRec's item table with them."""
import dataclasses

import pandas as pd
import pytest
import torch

from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_features import description_features, item_features
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.trainer import train_sasrec
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

CATALOG = pd.DataFrame({
    "idx": [1, 2, 3, 4],
    "attributes": [["Action", "Indie"], ["action", "RPG"], ["Puzzle"], ["Indie", "RPG", "Solo"]],
    "description": ["developer: Valve; publisher: Valve; price: 9.99", "developer: Valve; released: 2018-01-04",
                    "", "publisher: A; B; price: Free"],
})


def test_description_fields_are_read_as_the_reader_writes_them():
    assert description_features("developer: Valve; publisher: Valve; price: 9.99") == ["developer: Valve",
                                                                                   "publisher: Valve"]
    assert description_features("publisher: A; B; price: Free") == ["publisher: A; B"]  # a value may hold "; "
    assert description_features("") == [] and description_features("released: 2018") == []


def test_features_shared_by_two_items_are_kept_in_csr_form():
    features = item_features(CATALOG)
    assert features.names == ("action", "developer: valve", "indie", "rpg")  # case-folded; singletons dropped
    rows = [[features.names[f] for f in features.ids[features.offsets[i]:features.offsets[i + 1]]]
            for i in range(features.n_items + 1)]
    assert rows == [[], ["action", "developer: valve", "indie"], ["action", "developer: valve", "rpg"], [],
                    ["indie", "rpg"]]


def test_item_table_is_the_id_embedding_plus_the_mean_feature_embedding():
    features = item_features(CATALOG)
    model = SASRec(4, SASRecConfig(max_len=5, hidden_size=8), features).eval()
    table = model.item_table()
    mean = model.feature_emb.weight[[0, 1, 2]].mean(0)  # item 1: action, developer: valve, indie
    assert torch.allclose(table[1], model.item_emb.weight[1] + mean, atol=1e-6)
    assert torch.equal(table[3], model.item_emb.weight[3])  # no kept feature
    assert not table[0].any()  # padding stays zero
    with pytest.raises(ValueError, match="features cover"):
        SASRec(5, SASRecConfig(max_len=5, hidden_size=8), features)


def test_features_let_an_item_unseen_in_training_be_recommended():
    # The successor walk, with item 7 never in training; every item shares a feature with its successor.
    dataset = synthetic_dataset(n_users=120, n_items=12, length=8)
    walks = [[i for i in s if i != 7] for s in dataset.train["sequence"]]
    dataset = dataclasses.replace(dataset, train=dataset.train.assign(sequence=walks), items=dataset.items.assign(
        attributes=[[f"pair{i // 2}"] for i in dataset.items["idx"]]))
    config = SASRecConfig(max_len=8, hidden_size=16, dropout=0.1, lr=5e-3, batch_size=32, max_epochs=15,
                          patience=15, refit=False)
    ranks = {}
    for with_features in (False, True):
        model = train_sasrec(dataset, dataclasses.replace(config, item_features=with_features), progress=False).model
        scores = SASRecRanker(model).scores([[5, 6]])[0].numpy()
        ranks[with_features] = int((scores[1:] > scores[7]).sum())
    # Item 7 shares "pair3" with item 6 and borrows what that feature learnt on 6: it comes right after.
    assert ranks[True] < ranks[False] and ranks[True] <= 2
