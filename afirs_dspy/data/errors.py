"""The one error type for bad or missing data: its message is shown to the user as is."""


class DataError(Exception):
    """A user-facing data problem (missing file, malformed line, empty result, ...).

    The message names the file (and line where it applies) and what was expected.
    """
