"""DSPy modules that compose the signatures into AF-IRS, its ablations and baselines."""
