"""Errors of recording and replay: each says what is wrong and what to do about it."""


class RecordError(ValueError):
    """A recording cannot be written, read or replayed as asked."""
