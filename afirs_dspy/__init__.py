"""afirs-dspy: the AF-IRS interactive recommender as a DSPy program."""

__version__ = "0.1.0"

__all__ = ["__version__", "load_program"]


def __getattr__(name: str):
    # Imported on first use so that `import afirs_dspy` (and the CLI's start-up) stays light.
    if name == "load_program":
        from afirs_dspy.compiled.program_file import load_program

        return load_program
    raise AttributeError(f"module 'afirs_dspy' has no attribute {name!r}")
