"""Whether a preference tree has the shape extraction needs (issue targets), checked on any tree.

At least 4 broad categories, none holding more than half the attributes, each with at least 2
subcategories; every attribute and item reachable; the largest attribute split into item groups;
names a person would accept (unique among siblings, not the parent's, no empty or placeholder name;
"Other" only for the fallback remainder); every node saying how it was placed.
"""
from __future__ import annotations

import re

from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree

PLACED_BY = ("llm", "embedding", "fallback")
PLACEHOLDER = re.compile(r"(?:misc\.?|miscellaneous|unknown|none|n/?a|(?:group|category|subcategory|cluster)\s*\d*)",
                         re.IGNORECASE)


def name_problems(tree: PreferenceTree) -> list[str]:
    """One line per bad name: duplicate among siblings, equal to its parent, empty or a placeholder.
    Attribute nodes keep the dataset's own names, so two that differ only in case are not flagged."""
    problems = []
    for node in tree.nodes:
        seen: set[str] = set()
        for child in tree.children(node.id):
            key = child.name.strip().casefold()
            where = f"{tree.path(child.id)!r}"
            if not key or PLACEHOLDER.fullmatch(key) or (key == "other" and child.placed_by != "fallback"):
                problems.append(f"placeholder name {where}")
            if key == node.name.strip().casefold():
                problems.append(f"same name as its parent {where}")
            if key in seen and child.level != ATTRIBUTE_LEVEL:
                problems.append(f"duplicate sibling {where}")
            seen.add(key)
    return problems


def tree_shape(tree: PreferenceTree, attributes: set[str]) -> dict:
    """Figures and pass/fail targets for ``tree`` over the catalog's ``attributes``."""
    categories = tree.children(tree.root.id)
    attribute_nodes = tree.attribute_nodes()
    below: dict[int, int] = {}  # category id → attribute nodes under it
    for node in attribute_nodes:
        top = node
        while top.parent != tree.root.id:
            top = tree.nodes[top.parent]
        below[top.id] = below.get(top.id, 0) + 1
    largest_share = max(below.values(), default=0) / max(1, len(attribute_nodes))
    subcategories = [len(tree.children(c.id)) for c in categories]
    grouped = {n.parent for n in tree.nodes if n.level == ATTRIBUTE_LEVEL + 1}
    largest = max(attribute_nodes, key=lambda n: (len(n.items), -n.id), default=None)
    coverage = tree.coverage(attributes)
    names = name_problems(tree)
    targets = {
        "at_least_4_categories": len(categories) >= 4,
        "no_category_over_half": largest_share <= 0.5,
        "each_category_2_subcategories": min(subcategories, default=0) >= 2,
        "every_attribute_reachable": coverage["attributes_in_tree"] == coverage["attributes"],
        "every_item_reachable": coverage["items_reachable"] == coverage["items"],
        "largest_attribute_has_item_groups": largest is not None and largest.id in grouped,
        "names_acceptable": not names,
        "placement_recorded": all(n.placed_by in PLACED_BY for n in tree.nodes[1:]),
    }
    return {
        "categories": len(categories),
        "largest_category_share": round(largest_share, 3),
        "subcategories_per_category": subcategories,
        "attributes_with_item_groups": len(grouped),
        "name_problems": names[:20],
        "placed_by_per_level": {
            level: {how: sum(n.level == level and n.placed_by == how for n in tree.nodes) for how in PLACED_BY}
            for level in sorted({n.level for n in tree.nodes[1:]})
        },
        "targets": targets,
        "targets_met": all(targets.values()),
    }
