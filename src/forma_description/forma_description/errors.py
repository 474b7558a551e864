"""Errors raised by forma_description."""


class DescriptionError(ValueError):
    """A robot description argument, file or element is invalid; the message says which."""
