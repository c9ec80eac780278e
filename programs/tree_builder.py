"""Building the preference tree (paper section 4.1.1): structure from the data, names from the LM.

A small LM asked to organise hundreds of attributes chunk by chunk puts nearly all of them under
one category; it can, however, name a group it is shown and spot a member that does not fit. So:

1. Anchors: the attributes most items carry (at most ``anchors``, each on ``anchor_min_share`` of
   the items: MovieLens genres, Steam's Indie/Action/RPG, Beauty's Skin Care/Hair Care), the words
   people ask with. Every other attribute sits under the anchor its items carry most often (beyond
   that anchor's base rate) and whose name is closest ("zombies", "scary" → Horror); an anchor no
   other attribute would join is no anchor (programs/similarity_groups.py).
2. Categories are groups of similar anchors (sentence embedding + item co-occurrence, Ward), none
   holding more than half the attributes. The LM names them in one call (ClusterAttributes). With
   ``misfit_window`` it is also shown, per category, the least fitting non-anchor attributes and says
   which do not belong (FindMisfits); those move to the category they fit next best. Off by default:
   the 1.5B model called 12 of 12 misfits in 17 of 18 first answers.
3. Subcategories: each anchor with its attributes ("Horror, disturbing"), named after the anchor and its
   most frequent attribute; a category of one anchor is split by similarity. With ``anchors=0`` the
   categories and subcategories are similarity clusters of all attributes (the previous builder: its
   first cluster, "Adventure, Western > Western, leonardo dicaprio", drew most descents).
   ``lm_subcategory_names`` lets the LM name subcategories (one call per category): the small model
   names a group after one of its own attributes, usable for 0/36, 3/26 and 5/20 subcategories on
   ml-latest-small, Steam and Beauty.
4. The largest attributes get item groups: their items clustered by text embedding and named by
   the LM (GroupItems, one call per attribute).

Every answer is validated: one name per group, unique among siblings, not the parent's name nor a
child's, no placeholder, no name copied from the instruction's example, and each name closer (sentence
embedding) to its own group's nearest members than to a sibling's. A name that fails becomes the group's first attributes, marked
"fallback"; a naming call is not retried (the fallback is the group's own words; a retry at a higher
temperature repeated the subcategory answers). Each node records how it was placed: "llm" (named or moved by the LM), "embedding" (by
similarity, named from its members) or "fallback". Finished LM steps go to a StepLog, so a build resumes.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import dspy
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree, TreeNode
from afirs_dspy.programs.guarded import InvalidOutput, guarded_call, valid_numbers
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.programs.similarity_groups import attribute_features, similarity_groups, typicality
from afirs_dspy.programs.tree_steps import StepLog, step_key
from afirs_dspy.programs.tree_structure import SimilarityStructure, tree_structure
from afirs_dspy.signatures import ClusterAttributes, FindMisfits, GroupItems
from afirs_dspy.signatures.tree_construction import EXAMPLE_NAMES

NO_ATTRIBUTE = ("Other", "Items without attributes", "no listed attributes")
PLACEHOLDER = re.compile(
    r"(?:others?|misc\.?|miscellaneous|general|various|unknown|none|n/?a|groups?|categor(?:y|ies)|"
    r"subcategor(?:y|ies)|clusters?|attributes?|items?|names?)(?:\s*\d+)?", re.IGNORECASE)
COPIED_EXAMPLES = {name.casefold() for name in EXAMPLE_NAMES}


@dataclass(frozen=True)
class TreeBuildConfig:
    n_categories: int = 6
    anchors: int = 24  # most frequent attributes the categories are made of; 0: similarity clusters only
    anchor_min_share: float = 0.02  # of the items an anchor must be carried by
    anchor_cooccurrence_weight: float = 0.33  # shared items vs. name similarity, placing an attribute under an anchor
    attributes_per_subcategory: int = 12
    max_subcategories: int = 6
    max_share: float = 0.5  # of its parent's attributes, for a category and a subcategory
    cooccurrence_weight: float = 0.3
    cooccurrence_dims: int = 32
    # Least fitting members of a category the LM checks for misfits; 0, the default: no checks (the 1.5B model
    # called 12 of 12 attributes misfits in 17 of 18 first answers on the three datasets' anchored trees).
    misfit_window: int = 0
    lm_subcategory_names: bool = False
    names_shown: int = 8  # attributes shown per group when naming it
    min_items_to_group: int = 40
    max_group_calls: int = 4
    item_groups: int = 3
    titles_shown: int = 3
    seed: int = 0


def item_text(row) -> str:
    """What an item looks like to the embedder: title, then description or attributes."""
    detail = row.description or ", ".join(row.attributes[:8])
    return f"{row.title} — {detail[:100]}" if detail else row.title


def clean_name(name) -> str:
    """The LM's name without list numbering, quotes or extra spaces."""
    return re.sub(r"^\s*\d+\s*[.):-]\s*", "", " ".join(str(name).split())).strip(" .\"'")


def fits_own_group(embedder: TextEmbedder, names: list[str], groups: list[list[str]]) -> list[bool]:
    """Whether each name (one per group) is at least as close to its own group as to any other: a
    group's closeness is the mean cosine (sentence embedding) of the name to the group's ``top`` most
    similar members. A member's own name fits; a name that describes a sibling, or a word copied from
    elsewhere, does not."""
    top = 3
    vectors = embedder.encode(names)
    closeness = np.stack([np.sort(vectors @ embedder.encode(members).T, axis=1)[:, -top:].mean(axis=1)
                          for members in groups], axis=1)
    return [bool(closeness[g, g] >= closeness[g].max() - 1e-6) for g in range(len(names))]


def usable_names(names: list, forbidden: list[set[str]], groups: list[list[str]] | None = None,
                 embedder: TextEmbedder | None = None) -> list[str | None]:
    """One name per group (``forbidden[g]``: casefolded names group g may not take), None where the
    name is empty, a placeholder, a copy of the instruction's example, a sibling's, a forbidden one
    or, given the ``groups``' members and an ``embedder``, one that fits another group better than its
    own; InvalidOutput when the count is wrong or most names are unusable."""
    if len(names) != len(forbidden):
        raise InvalidOutput(f"{len(names)} names for {len(forbidden)} groups")
    names = [clean_name(name) for name in names]
    fits = fits_own_group(embedder, names, groups) if embedder is not None else [True] * len(names)
    taken: set[str] = set()
    result: list[str | None] = []
    for name, banned, fit in zip(names, forbidden, fits):
        key = name.casefold()
        # A copied list of attributes or titles is no name: at most 4 words, no commas.
        usable = (name and len(name.split()) <= 4 and "," not in name and not PLACEHOLDER.fullmatch(name)
                  and key not in taken | banned | COPIED_EXAMPLES and fit)
        result.append(name if usable else None)
        taken.add(key)
    if 2 * sum(name is None for name in result) > len(result):
        raise InvalidOutput(f"unusable names: {names}")
    return result


def fill_names(names: list[str | None], candidates: list[list[str]], forbidden: list[set[str]],
               first: int | list[int] = 1) -> list[tuple[str, str]]:
    """(name, "llm") where the LM's name is usable, else (the first free join of at least ``first``
    (per group, or for all) of the group's ``candidates``, "fallback"); names stay unique among the siblings."""
    taken = {n.casefold() for n in names if n}
    filled = []
    firsts = first if isinstance(first, list) else [first] * len(names)
    for name, options, banned, first in zip(names, candidates, forbidden, firsts):
        if name:
            filled.append((name, "llm"))
            continue
        joins = [", ".join(options[:k]) for k in range(min(first, len(options)), len(options) + 1)]
        name = next((j for j in joins if j.casefold() not in taken | banned), f"{joins[-1]} ({len(filled) + 1})")
        taken.add(name.casefold())
        filled.append((name, "fallback"))
    return filled


class PreferenceTreeBuilder(dspy.Module):
    def __init__(self, embedder: TextEmbedder, config: TreeBuildConfig = TreeBuildConfig()):
        super().__init__()
        self.embedder = embedder
        self.config = config
        self.cluster = predictor(ClusterAttributes)
        self.misfits = predictor(FindMisfits)
        self.group = predictor(GroupItems)

    def forward(self, items: pd.DataFrame, domain: str, popularity: np.ndarray | None = None,
                steps: StepLog | None = None) -> dspy.Prediction:
        """Build the tree over ``items`` (idx, title, description, attributes); ``popularity[idx]``
        orders the example items shown to the LM; ``steps`` holds LM steps already done."""
        config = self.config
        steps = steps if steps is not None else StepLog()
        holders: dict[str, list[int]] = {}
        for idx, attributes in zip(items.idx, items.attributes):
            for attribute in attributes:
                holders.setdefault(attribute, []).append(int(idx))
        names = sorted(holders, key=lambda a: (-len(holders[a]), a))
        run = _Run(self, domain, steps)
        nodes = [TreeNode(0, domain, 0, None)]
        anchors = np.zeros(0, dtype=np.int64)
        if names:
            members = [np.asarray(holders[a]) for a in names]
            semantic = self.embedder.encode(names)
            features = attribute_features(semantic, members, len(items), config.cooccurrence_weight,
                                          config.cooccurrence_dims, config.seed)
            structure = tree_structure(semantic, members, len(items), features, config)
            anchors = structure.anchors
            categories = structure.categories()
            large = [a for a in names if len(holders[a]) >= config.min_items_to_group][: config.max_group_calls]
            run.progress.total = (1 + (len(categories) if config.misfit_window else 0)
                                  + (len(categories) if config.lm_subcategory_names else 0) + len(large))
            run.progress.refresh()
            category_names = run.name_attribute_groups(domain, categories, names, features, structure)
            moved: set[int] = set()
            if config.misfit_window:
                moved = run.move_misfits(structure, category_names, names)
                categories = structure.categories()
            for (category, how), rows in zip(category_names, categories):
                c = len(nodes)
                nodes.append(TreeNode(c, category, 1, 0, placed_by=how))
                subgroups = structure.subgroups(rows)
                sub_names = run.name_attribute_groups(category, subgroups, names, features, structure,
                                                      config.lm_subcategory_names)
                for (subcategory, sub_how), sub_rows in zip(sub_names, subgroups):
                    s = len(nodes)
                    nodes.append(TreeNode(s, subcategory, 2, c, placed_by=sub_how))
                    for row in sub_rows:
                        nodes.append(TreeNode(len(nodes), names[row], ATTRIBUTE_LEVEL, s, tuple(holders[names[row]]),
                                              "llm" if row in moved else "embedding"))
            run.add_item_groups(nodes, large, items, popularity)
        if (items.attributes.map(len) == 0).any():
            _add_unlabelled(nodes, items)
        run.progress.close()
        tree = PreferenceTree(nodes=nodes, n_items=len(items), meta={
            "domain": domain, "embedder": self.embedder.name, "config": asdict(config),
            "builder": "anchors+similarity+llm-names" if len(anchors) else "similarity+llm-names",
            "anchors": [names[r] for r in anchors],
        })
        report = tree.coverage(set(holders))
        report["lm_steps"] = sum(event["status"] != "resumed" for event in run.trace)
        report["lm_steps_resumed"] = sum(event["status"] == "resumed" for event in run.trace)
        report["lm_fallbacks"] = sum(event["status"] == "fallback" for event in run.trace)
        report["anchors"] = tree.meta["anchors"]
        return dspy.Prediction(tree=tree, report=report, trace=run.trace)


class _Run:
    """One build: its LM steps (resumed from the log when done before), trace and progress bar."""

    def __init__(self, builder: PreferenceTreeBuilder, domain: str, steps: StepLog):
        self.builder, self.config, self.domain, self.steps = builder, builder.config, domain, steps
        self.trace: list[dict] = []
        self.progress = tqdm(total=0, desc="building preference tree", unit=" LM step", disable=None)

    def ask(self, step: str, module, validate, fallback, attempts: int = 2, **inputs):
        key = step_key(step, inputs)
        if key in self.steps:
            self.trace.append({"step": step, "status": "resumed", "errors": []})
        else:
            self.steps[key] = guarded_call(module, validate, fallback, self.trace, step, attempts,
                                           domain=self.domain, **inputs)
        self.progress.update()
        return self.steps[key]

    def name_attribute_groups(self, parent: str, groups: list[np.ndarray], names: list[str], features: np.ndarray,
                              structure: SimilarityStructure, use_lm: bool = True) -> list[tuple[str, str]]:
        """(name, how) per group of attribute rows, from one ClusterAttributes call (``use_lm``) or
        from the groups' members ("embedding")."""
        shown = [self._representatives(rows, names, features) for rows in groups]
        first = [structure.name_length(rows) for rows in groups]
        # A category's children are subcategories (named later); a subcategory's are its attributes.
        at_top = parent == self.domain
        forbidden = [{parent.casefold()} | (set() if at_top else {names[r].casefold() for r in rows}) for rows in groups]
        if not use_lm:
            return [(name, "embedding") for name, _ in fill_names([None] * len(groups), shown, forbidden, first)]
        answer = self.ask(
            "name_categories" if at_top else "name_subcategories", self.builder.cluster,
            lambda p: usable_names(p.names, forbidden, shown, self.builder.embedder), lambda: [None] * len(groups),
            attempts=1, parent=parent, groups=[f"{n}. {', '.join(s)}" for n, s in enumerate(shown, start=1)],
        )
        return fill_names(answer, shown, forbidden, first)

    def _representatives(self, rows: np.ndarray, names: list[str], features: np.ndarray) -> list[str]:
        """The group's first attributes (its anchors, then the most frequent), then its most typical."""
        half = self.config.names_shown // 2
        frequent = rows[:half]
        typical = rows[np.argsort(-typicality(features, rows), kind="stable")]
        picked = list(dict.fromkeys([*frequent, *typical]))[: self.config.names_shown]
        return [names[r] for r in picked]

    def move_misfits(self, structure: SimilarityStructure, category_names, names) -> set[int]:
        """Each category's least fitting movable members, checked by the LM; ``structure`` moves the
        misfits to the category they fit next best. Returns the moved rows."""
        fit = structure.category_fit()
        moves = {}
        for g, (rows, (category, _)) in enumerate(zip(structure.categories(), category_names)):
            movable = rows[~np.isin(rows, structure.anchors)]
            window = movable[np.argsort(fit[movable, g], kind="stable")][: self.config.misfit_window]
            if not len(window):
                continue
            flagged = self.ask(
                "find_misfits", self.builder.misfits,
                lambda p, n=len(window): self._validate_misfits(p.misfits, n), list,
                category=category, attributes=[f"{n}. {names[r]}" for n, r in enumerate(window, start=1)],
            )
            for position in flagged:
                row = int(window[position])
                scores = fit[row].copy()
                scores[g] = -np.inf
                moves[row] = int(np.argmax(scores))
        structure.move(moves)
        return set(moves)

    @staticmethod
    def _validate_misfits(misfits: list[int], count: int) -> list[int]:
        positions = valid_numbers(misfits, count)
        if 2 * len(positions) > count:
            raise InvalidOutput(f"{len(positions)} of {count} attributes called misfits; at most half may move")
        return positions

    def add_item_groups(self, nodes: list[TreeNode], large: list[str], items: pd.DataFrame,
                        popularity: np.ndarray | None) -> None:
        """Item-group nodes under the ``large`` attributes: their items clustered by text, named by the LM."""
        if not large:
            return
        rows = {node.name: node for node in nodes if node.level == ATTRIBUTE_LEVEL}
        needed = sorted({i for name in large for i in rows[name].items})
        texts = {int(r.idx): item_text(r) for r in items.itertuples()}
        titles = dict(zip(items.idx.astype(int), items.title))
        vectors = dict(zip(needed, self.builder.embedder.encode([texts[i] for i in needed])))
        attributes = dict(zip(items.idx.astype(int), items.attributes))
        score = popularity if popularity is not None else np.zeros(int(items.idx.max()) + 1)
        for name in large:
            parent = rows[name]
            members = np.asarray(parent.items)
            groups = [members[g] for g in similarity_groups(np.stack([vectors[i] for i in members]),
                                                            self.config.item_groups, self.config.max_share)]
            traits = [_distinctive(group, members, attributes, name) for group in groups]
            examples = [[titles[i] for i in sorted(group, key=lambda i: (-score[i], i))[: self.config.titles_shown]]
                        for group in groups]
            forbidden = [{name.casefold()}] * len(groups)
            answer = self.ask(
                "group_items", self.builder.group,
                lambda p: usable_names(p.names, forbidden, [t + e for t, e in zip(traits, examples)], self.builder.embedder),
                lambda: [None] * len(groups), attempts=1, attribute=name,
                groups=[f"{n}. typical: {', '.join(t) or '-'}; e.g. {'; '.join(e)}"
                        for n, (t, e) in enumerate(zip(traits, examples), start=1)],
            )
            fallback_words = [t or [f"like {e[0]}"] for t, e in zip(traits, examples)]
            for (group_name, how), group in zip(fill_names(answer, fallback_words, forbidden), groups):
                nodes.append(TreeNode(len(nodes), group_name, ATTRIBUTE_LEVEL + 1, parent.id,
                                      tuple(sorted(int(i) for i in group)), how))


def _distinctive(group: np.ndarray, members: np.ndarray, attributes: dict, parent: str, top: int = 3) -> list[str]:
    """The attributes over-represented in ``group`` compared with all of ``members`` (the parent's name left out)."""
    def shares(rows):
        counts = pd.Series([a for i in rows for a in attributes[int(i)] if a != parent]).value_counts()
        return counts / len(rows)

    lift = shares(group).sub(shares(members), fill_value=0)
    lift = lift[lift > 0].sort_values(ascending=False, kind="stable")
    return list(lift.index[:top])


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
