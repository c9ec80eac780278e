"""Building the preference tree with a bounded number of LM calls (paper section 4.1.1).

1. The most frequent attributes go to the LM in chunks (ClusterAttributes); the names it gives
   are merged across chunks case-insensitively, and earlier names are shown to later chunks.
2. Every attribute the LM did not place (the long tail, or a chunk whose output failed) goes to
   the subcategory whose placed attributes it is most similar to (sentence embeddings).
3. The largest attributes get item groups (GroupItems): the LM names groups from a sample of
   the attribute's most popular items; the rest of its items join the nearest group.
Each node records whether the LM, embedding similarity or a fallback placed it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import dspy
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from afirs_dspy.embeddings import TextEmbedder
from afirs_dspy.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree, TreeNode
from afirs_dspy.programs.guarded import InvalidOutput, guarded_call, valid_numbers
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import ClusterAttributes, GroupItems

FALLBACK_PLACE = ("Attributes", "All")
NO_ATTRIBUTE = ("Other", "Other", "no listed attributes")


@dataclass(frozen=True)
class TreeBuildConfig:
    attributes_per_call: int = 20
    max_llm_attributes: int = 120
    max_existing_shown: int = 30
    min_items_to_group: int = 40
    max_group_calls: int = 12
    items_per_group_call: int = 20


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def item_text(row) -> str:
    """What an item looks like to the LM and the embedder: title, then description or attributes."""
    detail = row.description or ", ".join(row.attributes[:8])
    return f"{row.title} — {detail[:100]}" if detail else row.title


class PreferenceTreeBuilder(dspy.Module):
    def __init__(self, embedder: TextEmbedder, config: TreeBuildConfig = TreeBuildConfig()):
        super().__init__()
        self.embedder = embedder
        self.config = config
        self.cluster = predictor(ClusterAttributes)
        self.group = predictor(GroupItems)

    def forward(self, items: pd.DataFrame, domain: str, popularity: np.ndarray | None = None) -> dspy.Prediction:
        """Build the tree over ``items`` (idx, title, description, attributes); ``popularity[idx]``
        orders the items shown to the LM (most popular first)."""
        trace: list[dict] = []
        attribute_items: dict[str, list[int]] = defaultdict(list)
        for idx, attributes in zip(items.idx, items.attributes):
            for attribute in attributes:
                attribute_items[attribute].append(int(idx))
        ordered = sorted(attribute_items, key=lambda a: (-len(attribute_items[a]), a))
        n_calls = -(-min(len(ordered), self.config.max_llm_attributes) // self.config.attributes_per_call)
        n_calls += min(self.config.max_group_calls, sum(len(v) >= self.config.min_items_to_group for v in attribute_items.values()))
        progress = tqdm(total=n_calls, desc="building preference tree", unit=" LM call", disable=None)

        places, how = self._place_attributes(ordered, domain, trace, progress)
        nodes = self._attribute_nodes(domain, ordered, places, how, attribute_items)
        if (items.attributes.map(len) == 0).any():
            self._add_unlabelled(nodes, items)
        item_groups = self._group_items(nodes, items, domain, popularity, trace, progress)
        progress.close()
        tree = PreferenceTree(nodes=nodes, n_items=len(items), meta={
            "domain": domain,
            "embedder": self.embedder.name,
            "config": asdict(self.config),
            "item_groups": item_groups,
        })
        report = tree.coverage(set(attribute_items))
        report["lm_steps"] = len(trace)  # each step is one LM call, plus one per retry
        report["lm_fallbacks"] = sum(event["status"] == "fallback" for event in trace)
        report["group_items_placed_by"] = {
            way: sum(group[way] for group in item_groups.values()) for way in ("llm", "embedding")
        }
        return dspy.Prediction(tree=tree, report=report, trace=trace)

    def _place_attributes(self, ordered, domain, trace, progress):
        """attribute → (category, subcategory) and attribute → how it was placed."""
        places: dict[str, tuple[str, str]] = {}
        how: dict[str, str] = {}
        names: dict[str, str] = {}  # normalised name → the first spelling seen
        config = self.config
        llm_attributes = ordered[: config.max_llm_attributes]
        for start in range(0, len(llm_attributes), config.attributes_per_call):
            chunk = llm_attributes[start : start + config.attributes_per_call]
            existing = list(dict.fromkeys(f"{c} > {s}" for c, s in places.values()))[: config.max_existing_shown]
            placed = guarded_call(
                self.cluster, lambda p, chunk=chunk: self._validate_tree(p.tree, chunk), dict, trace,
                "cluster_attributes", domain=domain, attributes=chunk, existing=existing,
            )
            progress.update()
            for attribute, (category, subcategory) in placed.items():
                category = names.setdefault(_norm(category), category.strip())
                subcategory = names.setdefault(_norm(category) + ">" + _norm(subcategory), subcategory.strip())
                places[attribute], how[attribute] = (category, subcategory), "llm"

        rest = [a for a in ordered if a not in places]
        if not places:
            for attribute in rest:
                places[attribute], how[attribute] = FALLBACK_PLACE, "fallback"
        elif rest:
            self._place_by_similarity(rest, places, how)
        return places, how

    @staticmethod
    def _validate_tree(tree, chunk: list[str]) -> dict[str, tuple[str, str]]:
        by_norm = {_norm(a): a for a in chunk}
        placed: dict[str, tuple[str, str]] = {}
        for category in tree:
            for sub in category.subcategories:
                if not category.category.strip() or not sub.subcategory.strip():
                    continue
                for name in sub.attributes:
                    attribute = by_norm.get(_norm(name))
                    if attribute is not None:
                        placed.setdefault(attribute, (category.category, sub.subcategory))
        if not placed:
            raise InvalidOutput("the tree places none of the given attributes")
        return placed

    def _place_by_similarity(self, rest, places, how):
        placed = list(places)
        vectors = self.embedder.encode(placed + rest)
        subcategories = list(dict.fromkeys(places[a] for a in placed))
        column = {place: i for i, place in enumerate(subcategories)}
        members = np.array([column[places[a]] for a in placed])
        centroids = np.zeros((len(subcategories), vectors.shape[1]), dtype=np.float32)
        np.add.at(centroids, members, vectors[: len(placed)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        nearest = np.argmax(vectors[len(placed) :] @ centroids.T, axis=1)
        for attribute, best in zip(rest, nearest):
            places[attribute], how[attribute] = subcategories[best], "embedding"

    @staticmethod
    def _attribute_nodes(domain, ordered, places, how, attribute_items) -> list[TreeNode]:
        nodes = [TreeNode(0, domain, 0, None)]
        ids: dict[tuple, int] = {}

        def node_id(key: tuple, name: str, level: int, parent: int, placed_by: str) -> int:
            if key not in ids:
                ids[key] = len(nodes)
                nodes.append(TreeNode(len(nodes), name, level, parent, placed_by=placed_by))
            return ids[key]

        for attribute in ordered:
            category, subcategory = places[attribute]
            way = "fallback" if how[attribute] == "fallback" else "llm"
            c = node_id((category,), category, 1, 0, way)
            s = node_id((category, subcategory), subcategory, 2, c, way)
            nodes.append(TreeNode(len(nodes), attribute, ATTRIBUTE_LEVEL, s, tuple(attribute_items[attribute]), how[attribute]))
        return nodes

    @staticmethod
    def _add_unlabelled(nodes: list[TreeNode], items: pd.DataFrame) -> None:
        """Items with no attribute hang under one fallback attribute, so every item is reachable."""
        category, subcategory, name = NO_ATTRIBUTE
        bare = tuple(int(i) for i in items.idx[items.attributes.map(len) == 0])
        c = len(nodes)
        nodes += [
            TreeNode(c, category, 1, 0, placed_by="fallback"),
            TreeNode(c + 1, subcategory, 2, c, placed_by="fallback"),
            TreeNode(c + 2, name, ATTRIBUTE_LEVEL, c + 1, bare, placed_by="fallback"),
        ]

    def _group_items(self, nodes, items, domain, popularity, trace, progress) -> dict[str, dict]:
        """Append item-group nodes under the largest attributes; returns per group how its items were placed."""
        config = self.config
        large = [n for n in nodes if n.level == ATTRIBUTE_LEVEL and len(n.items) >= config.min_items_to_group]
        large = sorted(large, key=lambda n: (-len(n.items), n.id))[: config.max_group_calls]
        if not large:
            return {}
        texts = [item_text(row) for row in items.itertuples()]
        needed = sorted({i for node in large for i in node.items})
        vectors = dict(zip(needed, self.embedder.encode([texts[i - 1] for i in needed])))
        score = popularity if popularity is not None else np.zeros(len(items) + 1)
        placed_by: dict[str, dict] = {}
        for attribute in large:
            members = sorted(attribute.items, key=lambda i: (-score[i], i))
            shown = members[: config.items_per_group_call]
            groups = guarded_call(
                self.group, lambda p, shown=shown: self._validate_groups(p.groups, shown), list, trace,
                "group_items", domain=domain, attribute=attribute.name,
                items=[f"{n}. {texts[i - 1]}" for n, i in enumerate(shown, start=1)],
            )
            progress.update()
            if groups:
                placed_by.update(self._add_groups(nodes, attribute, groups, members, vectors))
        return placed_by

    @staticmethod
    def _validate_groups(groups, shown: list[int]) -> list[tuple[str, list[int]]]:
        taken: set[int] = set()
        result = []
        for group in groups:
            picks = [shown[p] for p in valid_numbers(group.items, len(shown)) if shown[p] not in taken]
            taken.update(picks)
            if group.name.strip() and picks:
                result.append((group.name.strip(), picks))
        if len(result) < 2:
            raise InvalidOutput(f"{len(result)} usable group(s); need at least 2")
        return result

    def _add_groups(self, nodes, attribute, groups, members, vectors) -> dict[str, dict]:
        names = self.embedder.encode([name for name, _ in groups])
        centroids = np.stack([names[g] + sum(vectors[i] for i in picks) for g, (_, picks) in enumerate(groups)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        assigned = {i for _, picks in groups for i in picks}
        rest = [i for i in members if i not in assigned]
        nearest = np.argmax(np.stack([vectors[i] for i in rest]) @ centroids.T, axis=1) if rest else []
        joined: dict[int, list[int]] = defaultdict(list)
        for item, g in zip(rest, nearest):
            joined[int(g)].append(item)
        report = {}
        for g, (name, picks) in enumerate(groups):
            node = TreeNode(len(nodes), name, ATTRIBUTE_LEVEL + 1, attribute.id, tuple(sorted(picks + joined[g])))
            nodes.append(node)
            report[str(node.id)] = {"llm": len(picks), "embedding": len(joined[g])}
        return report
