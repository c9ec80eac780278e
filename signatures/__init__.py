"""DSPy signatures of AF-IRS: one per LLM step of the paper (section 4)."""
