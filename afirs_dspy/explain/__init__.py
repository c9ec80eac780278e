"""Floor 8: what a turn did, recorded as it runs and rendered for people (``chat --verbose``, ``serve``)."""
