"""Errors of the MoveIt configuration package."""


class MoveItConfigError(ValueError):
    """A configuration file, group, joint or link name that does not fit the robot (the reason is the message)."""
