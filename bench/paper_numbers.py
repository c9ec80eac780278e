"""The paper's published Table 2 and Table 3 (SR@1, SR@3, SR@5, AT), quoted for comparison only.

Its datasets are the full ML-1M, Steam and Amazon-Beauty with a large hosted LLM; ours are
MovieLens latest-small and subsets, with a small local model, so only the ordering is comparable.
"""
PAPER_DATASET = {"ml-latest-small": "ML-1M", "ml-1m": "ML-1M", "beauty": "Amazon-Beauty", "steam": "Steam"}

TABLE2 = {  # method: {paper dataset: (SR@1, SR@3, SR@5, AT)}
    "zero-shot": {"ML-1M": (0.06, 0.46, 0.71, 3.87), "Amazon-Beauty": (0.00, 0.08, 0.15, 5.61), "Steam": (0.22, 0.57, 0.67, 3.51)},
    "react": {"ML-1M": (0.05, 0.44, 0.68, 4.03), "Amazon-Beauty": (0.00, 0.10, 0.15, 5.59), "Steam": (0.25, 0.52, 0.64, 3.55)},
    "chatcrs": {"ML-1M": (0.05, 0.52, 0.79, 3.72), "Amazon-Beauty": (0.07, 0.26, 0.35, 4.86), "Steam": (0.12, 0.41, 0.57, 4.09)},
    "rah": {"ML-1M": (0.22, 0.55, 0.74, 3.40), "Amazon-Beauty": (0.13, 0.22, 0.34, 4.84), "Steam": (0.34, 0.59, 0.68, 3.17)},
    "llmcrs": {"ML-1M": (0.16, 0.53, 0.67, 3.73), "Amazon-Beauty": (0.15, 0.22, 0.30, 4.92), "Steam": (0.23, 0.52, 0.64, 3.55)},
    "interecagent": {"ML-1M": (0.10, 0.24, 0.41, 4.76), "Amazon-Beauty": (0.23, 0.44, 0.54, 3.93), "Steam": (0.15, 0.37, 0.48, 4.31)},
    "macrec": {"ML-1M": (0.04, 0.19, 0.46, 4.89), "Amazon-Beauty": (0.20, 0.40, 0.52, 4.09), "Steam": (0.19, 0.39, 0.61, 4.00)},
    "afirs": {"ML-1M": (0.27, 0.68, 0.81, 3.13), "Amazon-Beauty": (0.29, 0.52, 0.65, 3.50), "Steam": (0.52, 0.78, 0.88, 2.27)},
}
TABLE3 = {
    "afirs": TABLE2["afirs"],
    "decision-first": {"ML-1M": (0.24, 0.57, 0.75, 3.47), "Amazon-Beauty": (0.17, 0.46, 0.47, 4.40), "Steam": (0.37, 0.67, 0.73, 2.95)},
    "no-llm2rs": {"ML-1M": (0.22, 0.54, 0.66, 3.64), "Amazon-Beauty": (0.12, 0.25, 0.32, 4.85), "Steam": (0.36, 0.61, 0.68, 3.18)},
    "no-refine": {"ML-1M": (0.06, 0.26, 0.36, 4.84), "Amazon-Beauty": (0.09, 0.23, 0.37, 5.02), "Steam": (0.28, 0.49, 0.56, 3.74)},
}
