"""Teleoperation from the browser, without ROS: the walking joystick's limits and the hand
targets' checks. The node turns the results into cmd_vel and wbc/targets/* messages."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

HANDS = ("left_hand", "right_hand")


class TeleopError(ValueError):
    """A teleop setting or target the console refuses (the reason is the message)."""


@dataclasses.dataclass(frozen=True)
class WalkLimits:
    """The joystick's range; the whole-body controller clamps to its own gait limits again."""

    forward_m_s: float = 0.5
    lateral_m_s: float = 0.3
    yaw_rad_s: float = 0.8

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not (math.isfinite(value) and 0.0 < value <= 3.0):
                raise TeleopError(f"walk limit {name} = {value} outside (0, 3]")

    def clamp(self, forward: float, lateral: float, yaw: float) -> tuple[float, float, float]:
        """Joystick values -> a velocity within the limits; non-finite values stop the robot."""
        values = (forward, lateral, yaw)
        if not all(math.isfinite(v) for v in values):
            return (0.0, 0.0, 0.0)
        bounds = (self.forward_m_s, self.lateral_m_s, self.yaw_rad_s)
        return tuple(max(-b, min(b, float(v))) for v, b in zip(values, bounds, strict=True))


def hand_target(position, wxyz) -> tuple[np.ndarray, np.ndarray]:
    """A dragged hand target (base_link frame) -> position and unit wxyz, or TeleopError.
    Whether the hand can get there is the whole-body controller's call (it answers on wbc/status)."""
    position, wxyz = np.asarray(position, float), np.asarray(wxyz, float)
    if position.shape != (3,) or wxyz.shape != (4,):
        raise TeleopError("a hand target needs a 3-vector position and a wxyz quaternion")
    norm = float(np.linalg.norm(wxyz))
    if not (np.all(np.isfinite(position)) and math.isfinite(norm) and norm > 1e-6):
        raise TeleopError("hand target is not finite")
    return position, wxyz / norm


GAZE_AHEAD_M = 1.0  # the gaze gizmo starts this far in front of the head [m]


def gaze_target(position) -> np.ndarray:
    """A dragged gaze point (base_link frame) -> the position, or TeleopError."""
    position = np.asarray(position, float)
    if position.shape != (3,):
        raise TeleopError("a gaze target needs a 3-vector position")
    if not np.all(np.isfinite(position)):
        raise TeleopError(f"gaze target {position.tolist()} is not finite")
    return position


def point_ahead(position, wxyz, distance_m: float = GAZE_AHEAD_M) -> np.ndarray:
    """The point distance_m along the x axis (forward) of a frame at position / wxyz."""
    w, x, y, z = (float(v) for v in wxyz)
    forward = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)])
    return np.asarray(position, float) + distance_m * forward
