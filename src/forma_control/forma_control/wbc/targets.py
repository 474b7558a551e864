"""Task targets as they arrive from teleop, policies and actions: checked, then expressed in
odom. A bad target is refused whole with the reason, and the controller keeps its current one.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_control.errors import TargetRejected
from forma_control.walk.walk_to import WalkToGoal

TARGET_FRAMES = ("odom", "base_link", "torso")
QUATERNION_TOLERANCE = 0.01  # |q| may differ from 1 by this much; it is then normalised


@dataclasses.dataclass(frozen=True)
class StampedTarget:
    """A pose or point target in plain numbers, as a message carries it."""

    frame_id: str
    stamp_s: float
    position: tuple[float, float, float]
    orientation_xyzw: tuple[float, float, float, float] | None = None  # None for a point


@dataclasses.dataclass(frozen=True)
class TargetLimits:
    max_age_s: float = 0.5  # a target stamped longer ago than this is stale [s]
    max_future_s: float = 0.05  # stamped further ahead: a clock mismatch [s]
    max_distance_m: float = 3.0  # from base_link; further is a unit or frame mistake [m]


def check_target(target: StampedTarget, now_s: float, limits: TargetLimits, prefix: str = "") -> StampedTarget:
    """Refuse non-finite numbers, unknown frames, stale or future stamps, non-unit quaternions."""
    frames = tuple(prefix + f for f in TARGET_FRAMES)
    if target.frame_id not in frames:
        raise TargetRejected(f"frame {target.frame_id!r} is not a target frame; use one of {', '.join(frames)}")
    values = list(target.position) + list(target.orientation_xyzw or ())
    if not all(math.isfinite(v) for v in values):
        raise TargetRejected(f"target has non-finite numbers {values}")
    if target.stamp_s <= 0.0:
        raise TargetRejected("target has no header stamp; stamp it with the robot's clock")
    age = now_s - target.stamp_s
    if age > limits.max_age_s:
        raise TargetRejected(f"target stamped {age:.3f} s ago is stale (limit {limits.max_age_s} s)")
    if age < -limits.max_future_s:
        raise TargetRejected(f"target stamped {-age:.3f} s in the future: is use_sim_time set the same on both sides?")
    if target.orientation_xyzw is not None:
        norm = math.sqrt(sum(v * v for v in target.orientation_xyzw))
        if abs(norm - 1.0) > QUATERNION_TOLERANCE:
            raise TargetRejected(f"orientation quaternion has norm {norm:.3f}; it must be a unit quaternion")
        target = dataclasses.replace(target, orientation_xyzw=tuple(v / norm for v in target.orientation_xyzw))
    return target


def walk_velocity(msg, now_s: float, max_age_s: float, prefix: str = "") -> np.ndarray:
    """geometry_msgs/TwistStamped on cmd_vel -> (forward, sideways [m/s], turn [rad/s]) in the
    walking frame. Refused (the caller stops the robot in place): non-finite numbers, a frame other
    than base_link ("" is taken as base_link), a stamp older than max_age_s. The gait is planar:
    linear z and angular x, y are ignored."""
    frame = msg.header.frame_id
    if frame not in ("", "base_link", prefix + "base_link"):
        raise TargetRejected(f"cmd_vel in frame {frame!r}: walking commands are in {prefix}base_link")
    t, w = msg.twist.linear, msg.twist.angular
    velocity = np.array([t.x, t.y, w.z], float)
    if not np.all(np.isfinite(velocity)) or not all(math.isfinite(v) for v in (t.z, w.x, w.y)):
        raise TargetRejected(f"cmd_vel has non-finite numbers ({t.x}, {t.y}, {w.z})")
    stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
    if stamp > 0.0 and now_s - stamp > max_age_s:
        raise TargetRejected(f"cmd_vel stamped {now_s - stamp:.3f} s ago is stale (limit {max_age_s} s)")
    return velocity


def walk_to_goal(msg, now_s: float, defaults: tuple[float, float, float], prefix: str = "") -> WalkToGoal:
    """A WalkTo goal -> WalkToGoal (pose in odom; tolerances / timeout of 0 take `defaults`:
    (position [m], yaw [rad], timeout [s])), refused with the reason: a frame other than odom,
    non-finite numbers, a non-unit quaternion, negative tolerances."""
    frame = msg.target.header.frame_id
    if frame not in ("odom", prefix + "odom"):
        raise TargetRejected(f"walk_to target in frame {frame!r}: targets are poses on the floor in {prefix}odom")
    p, o = msg.target.pose.position, msg.target.pose.orientation
    fields = {
        "position": (p.x, p.y, p.z),
        "orientation": (o.x, o.y, o.z, o.w),
        "position_tolerance_m": (msg.position_tolerance_m,),
        "yaw_tolerance_rad": (msg.yaw_tolerance_rad,),
        "timeout_s": (msg.timeout_s,),
    }
    bad = [f"{name} {values}" for name, values in fields.items() if not all(math.isfinite(v) for v in values)]
    if bad:
        raise TargetRejected(f"walk_to goal has non-finite numbers: {', '.join(bad)}")
    norm = math.sqrt(o.x * o.x + o.y * o.y + o.z * o.z + o.w * o.w)
    if abs(norm - 1.0) > QUATERNION_TOLERANCE:
        raise TargetRejected(
            f"walk_to orientation quaternion has norm {norm:.3f}; it must be a unit quaternion (x, y, z, w)"
        )
    if min(msg.position_tolerance_m, msg.yaw_tolerance_rad, msg.timeout_s) < 0.0:
        raise TargetRejected("tolerances and timeout must be >= 0 (0 = the defaults)")
    x, y, z, w = (v / norm for v in (o.x, o.y, o.z, o.w))
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    position_tolerance = msg.position_tolerance_m or defaults[0]
    yaw_tolerance = msg.yaw_tolerance_rad or defaults[1]
    timeout = msg.timeout_s or defaults[2]
    return WalkToGoal(np.array([p.x, p.y, yaw]), position_tolerance, yaw_tolerance, now_s + timeout)


def to_odom(target: StampedTarget, frame_in_odom: pin.SE3, base_in_odom: pin.SE3, limits: TargetLimits) -> pin.SE3:
    """The target as a pose in odom (a point target gets the identity orientation)."""
    if target.orientation_xyzw is None:
        rotation = np.eye(3)
    else:
        x, y, z, w = target.orientation_xyzw
        rotation = pin.Quaternion(w, x, y, z).toRotationMatrix()
    pose = frame_in_odom * pin.SE3(rotation, np.array(target.position, float))
    distance = float(np.linalg.norm(pose.translation - base_in_odom.translation))
    if distance > limits.max_distance_m:
        raise TargetRejected(
            f"target {distance:.2f} m from base_link exceeds {limits.max_distance_m} m: wrong frame or units?"
        )
    return pose
