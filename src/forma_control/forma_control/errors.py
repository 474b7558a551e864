"""Errors of forma_control: every refusal names the bad value and what would be valid."""


class ControlError(Exception):
    """Base of every forma_control error."""


class TargetRejected(ControlError):
    """A task target (hand pose, gaze, torso) was refused; nothing changed."""


class ControlConfigError(ControlError):
    """A controller setting is invalid (named field, value and valid range)."""
