"""Floor 4: what the commands built, loaded for a dataset (the preference tree and the recommender tool)."""
