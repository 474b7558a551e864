"""Errors of the teleop package."""


class TeleopError(ValueError):
    """A teleop parameter, marker feedback or target the node refuses (the reason is the message)."""
