"""Errors of the face and interaction package."""


class FaceError(ValueError):
    """Bad input to the face or the interaction (unknown expression, NaN, empty utterance...);
    the message says what and what is allowed."""
