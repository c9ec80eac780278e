"""Signatures 1–2: building the preference tree (paper section 4.1.1)."""
from __future__ import annotations

import dspy
from pydantic import BaseModel, Field


class Subcategory(BaseModel):
    subcategory: str = Field(description="a meaningful subcategory name")
    attributes: list[str] = Field(description="attributes from the input list, copied exactly")


class Category(BaseModel):
    category: str = Field(description="a broad category name")
    subcategories: list[Subcategory]


class ClusterAttributes(dspy.Signature):
    """Organize the provided attributes into a hierarchical attribute tree with three levels:
    broad categories at the first level, meaningful subcategories at the second level, and the
    attributes as leaf nodes at the third level. Use 2 to 5 broad categories (for movies e.g.
    Genre, Mood, Theme), each with a few subcategories that group several related attributes
    (e.g. Genre > Dark genres: Horror, Thriller). Place every attribute exactly once, copied
    exactly. Reuse an existing "Category > Subcategory" pair when an attribute fits it."""

    domain: str = dspy.InputField(desc="what the items are, e.g. 'movies'")
    attributes: list[str] = dspy.InputField()
    existing: list[str] = dspy.InputField(desc="'Category > Subcategory' pairs already in the tree")
    tree: list[Category] = dspy.OutputField()


class ItemGroup(BaseModel):
    name: str = Field(description="a short, specific subcategory name")
    items: list[int] = Field(description="numbers of the items that belong to it")


class GroupItems(dspy.Signature):
    """Group the items under a broad attribute and further categorize them into specific
    subcategories based on shared characteristics (for example, action movies into Superhero and
    Adventure). Make 2 to 5 groups; every item number goes into one group."""

    domain: str = dspy.InputField(desc="what the items are, e.g. 'movies'")
    attribute: str = dspy.InputField()
    items: list[str] = dspy.InputField(desc="numbered items: 'number. title — description'")
    groups: list[ItemGroup] = dspy.OutputField()
