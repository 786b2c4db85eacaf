"""The loader's one error type: its message is the one line the user reads."""


class LoadError(Exception):
    """Bad input or a failed load, explained on one line (stream, field, what was expected)."""
