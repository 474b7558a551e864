"""Errors of the control package: one family, so callers can catch them together."""


class ControlError(ValueError):
    """Bad configuration or input for a controller (the reason, with the bad value, is the message)."""
