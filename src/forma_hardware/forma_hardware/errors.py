"""Errors of the hardware layer."""


class HardwareError(Exception):
    """Base of every forma_hardware error."""


class HardwareConfigError(HardwareError, ValueError):
    """A hardware configuration file or value is invalid; the message names the field."""


class CommandRejected(HardwareError):
    """A joint command was refused as a whole; nothing moved. The message says why."""
