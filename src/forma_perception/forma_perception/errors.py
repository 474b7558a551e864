"""Errors of the perception package."""


class PerceptionError(ValueError):
    """Input the perception node cannot use (the reason is the message); the node keeps running."""
