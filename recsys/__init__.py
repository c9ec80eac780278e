"""The SASRec recommender tool that the AF-IRS program calls."""
