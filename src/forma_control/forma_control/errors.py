"""Errors of forma_control: one family, so callers can catch them together; every message names
the bad value and what would be valid."""


class ControlError(ValueError):
    """Bad configuration or input for a controller (the reason, with the bad value, is the message)."""


class TargetRejected(ControlError):
    """A task target (hand pose, gaze, torso) was refused; nothing changed."""


class ControlConfigError(ControlError):
    """A controller setting is invalid (named field, value and valid range)."""
