"""LM backends: the embedded local llama.cpp model and any dspy.LM model string."""
