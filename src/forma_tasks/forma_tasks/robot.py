"""The robot as the skills see it: a handful of calls onto the running stack's own interfaces.
Two implementations: the tasks node (forma_tasks.node: perception topics, wbc/reach and the WBC
targets, the hands' grasp actions over DDS) and the lockstep harness (forma_tasks.lockstep: the
same cores in process, for acceptance trials).

Every pose is in the level frame: base_link's origin, z up against gravity, x along the pelvis's
heading. Why not base_link itself: the pelvis pitches a few degrees while the body leans over the
table and reaches, and a grasp planned in a tilted frame put the palm 6 mm off along the fingers
(measured: the cup then slipped out of the closing hand).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

import numpy as np
import pinocchio as pin

from forma_tasks.scene import Scene


def level_from_base(base_rotation: np.ndarray) -> np.ndarray:
    """The rotation from base_link to the level frame, given base_link's orientation in any z-up
    frame (odom, or the IMU's world): its roll and pitch, without its heading."""
    r = np.asarray(base_rotation, float)
    yaw = math.atan2(r[1, 0], r[0, 0])
    return pin.utils.rpyToMatrix(0.0, 0.0, -yaw) @ r


REACHED, UNREACHABLE, TIMEOUT, CANCELED, REJECTED = "reached", "unreachable", "timeout", "canceled", "rejected"


@dataclasses.dataclass(frozen=True)
class ReachResult:
    outcome: str  # REACHED, UNREACHABLE, TIMEOUT, CANCELED, REJECTED
    distance_m: float  # palm to target when it ended
    reason: str


@dataclasses.dataclass(frozen=True)
class HandResult:
    success: bool
    holding: bool
    message: str


class ReachHandle(Protocol):
    def result(self) -> ReachResult | None:
        """None while the reach runs."""

    def cancel(self) -> None:
        """Stop it: the hand holds where it is (and rides with a moving torso)."""


class Robot(Protocol):
    standing_pelvis_height_m: float  # pelvis above the soles when standing (the stand pose)

    def now(self) -> float:
        """Robot time [s]."""

    def wait(self, seconds: float) -> None:
        """Let robot time pass (the stack keeps running)."""

    def observe(self) -> Scene:
        """The first perception frame taken after this call (objects and people in the level frame)."""

    def frame(self, name: str) -> pin.SE3:
        """A robot frame's measured pose in the level frame (forward kinematics of the joint
        states, tilted by the base's measured orientation)."""

    def look_at(self, point: np.ndarray) -> None:
        """Gaze target (level frame)."""

    def lean(self, torso: pin.SE3) -> None:
        """Torso target: the torso frame's pose in the level frame (lean_target builds it)."""

    def reach(
        self,
        side: str,
        pose: pin.SE3,
        tolerance_m: float = 0.02,
        orientation_tolerance_rad: float = math.radians(5.0),
        timeout_s: float = 4.0,
        max_speed_m_s: float = 0.0,
    ) -> ReachHandle:
        """Start moving the `<side>_hand` frame to pose (the level frame now; fixed in the world after)."""

    def hand(
        self, side: str, grasp_type: str, max_force_n: float = 10.0, preshape_only: bool = False, timeout_s: float = 6.0
    ) -> HandResult:
        """A grasp goal (or a shape: open, relax, point), until it ends."""

    def object_lost(self, side: str) -> str:
        """The hand's object-lost report since its last grasp goal, or ""."""

    def say(self, text: str) -> None:
        """What the robot says while it works."""


def standing_pelvis_height(frames, robot_model, pose: str) -> float:
    """The pelvis above the soles [m] in a named pose (forma_description RobotFrames and RobotModel)."""
    from forma_description.poses import named_pose

    frames.update(list(robot_model.joint_names), named_pose(pose, robot_model))
    soles = [frames.transform("base_link", f"{side}_sole")[2, 3] for side in ("left", "right")]
    return -0.5 * float(sum(soles))


def pelvis_height(robot: Robot) -> float:
    """The measured pelvis height above the soles [m] (the level frame's origin is the pelvis)."""
    return -0.5 * float(robot.frame("left_sole").translation[2] + robot.frame("right_sole").translation[2])


def lean_target(robot: Robot, drop_m: float, pitch_rad: float, roll_rad: float) -> pin.SE3:
    """The torso frame's pose in the level frame that lowers the pelvis to drop_m below standing and
    pitches / rolls the torso by these angles (0, 0, 0: stand up straight). The WBC keeps x, y."""
    torso = robot.frame("torso")
    z = torso.translation[2] + (robot.standing_pelvis_height_m - drop_m - pelvis_height(robot))
    return pin.SE3(pin.utils.rpyToMatrix(roll_rad, pitch_rad, 0.0), np.array([0.0, 0.0, z]))
