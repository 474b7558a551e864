"""Errors of the hands package."""


class HandsError(ValueError):
    """Input the hands node cannot use (the reason is the message); nothing reaches the motors."""
