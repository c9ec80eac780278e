"""Compiling (prompt-tuning) the AF-IRS program with DSPy optimizers."""
