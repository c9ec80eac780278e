"""Signatures 1–2: building the preference tree (paper section 4.1.1).

The tree's structure comes from clustering (programs/tree_builder.py); the LM names the groups and
says which attributes do not belong where similarity put them: short answers a small model can give.
"""
from __future__ import annotations

import dspy

# The names in the instructions' examples, taken from a domain none of the datasets is about: a small
# LM copies an example's names into its answer, so the builder refuses them.
EXAMPLE_NAMES = ("Fruit", "Cheese", "Soft cheese", "Blue cheese")


class ClusterAttributes(dspy.Signature):
    """Give each numbered group of attributes a short name of 1 to 3 words for the broader kind of
    thing its attributes have in common, the way a person browsing the catalog would call it. Do not
    copy the attributes or this example: for groceries, the groups "1. apples, pears, plums" and
    "2. cheddar, brie, feta" would be named "Fruit" and "Cheese". Every name must fit its own group
    better than the others and differ from the other names and from the parent."""

    domain: str = dspy.InputField(desc="what the items are, e.g. 'movies'")
    parent: str = dspy.InputField(desc="the node the groups sit under")
    groups: list[str] = dspy.InputField(desc="numbered groups: 'number. attribute, attribute, ...'")
    names: list[str] = dspy.OutputField(desc="one name of 1 to 3 words per group, in the groups' order")


class FindMisfits(dspy.Signature):
    """These attributes were put into the category by similarity. Which of them clearly do not
    belong in it? Answer with their numbers; an empty list when all of them fit."""

    domain: str = dspy.InputField(desc="what the items are, e.g. 'movies'")
    category: str = dspy.InputField()
    attributes: list[str] = dspy.InputField(desc="numbered attributes: 'number. attribute'")
    misfits: list[int] = dspy.OutputField(desc="numbers of the attributes that do not belong")


class GroupItems(dspy.Signature):
    """Name each numbered group of items that share an attribute: a short, specific subcategory
    name of 1 to 3 words for what the group's items have in common. Do not copy the titles or this
    example: for groceries, cheeses would be split into "Soft cheese" and "Blue cheese". Every name
    must fit its own group better than the others and differ from the other names and from the
    attribute."""

    domain: str = dspy.InputField(desc="what the items are, e.g. 'movies'")
    attribute: str = dspy.InputField()
    groups: list[str] = dspy.InputField(desc="numbered groups: 'number. typical attributes; example items'")
    names: list[str] = dspy.OutputField(desc="one name of 1 to 3 words per group, in the groups' order")
