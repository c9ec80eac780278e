"""afirs-dspy: the AF-IRS interactive recommender as a DSPy program."""

__version__ = "0.1.0"
