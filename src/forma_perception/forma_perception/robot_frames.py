"""Frames of the robot by forward kinematics (forma_description.frames), raising PerceptionError
so that the perception node's callers see one exception family."""

from __future__ import annotations

from forma_description.frames import RobotFrames as _RobotFrames
from forma_perception.errors import PerceptionError


class RobotFrames(_RobotFrames):
    """forma_description.frames.RobotFrames with PerceptionError for bad input."""

    error = PerceptionError
