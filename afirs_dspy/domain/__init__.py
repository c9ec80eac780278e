"""Floor 2: the recommendation domain — the catalog, the preference tree, and what a conversation has settled."""
