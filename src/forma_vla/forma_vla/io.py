"""Messages <-> the VLA cores: camera images in, an action out as the targets whole-body control
and the hands take (wbc/targets/*, hands/*/command)."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
from geometry_msgs.msg import PointStamped, PoseStamped
from sensor_msgs.msg import Image

from forma_interfaces.msg import HandCommand
from forma_vla.action_space import SIDES, Action
from forma_vla.errors import ObservationError


def image_rgb(msg: Image) -> np.ndarray:
    """sensor_msgs/Image (rgb8 or bgr8) -> (h, w, 3) uint8 RGB; ObservationError for anything else
    or a buffer that does not match its header (a corrupt image never reaches the policy)."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ObservationError(f"camera image encoding {msg.encoding!r}; rgb8 or bgr8 needed")
    h, w, step = msg.height, msg.width, msg.step
    if h < 8 or w < 8 or step < 3 * w or len(msg.data) != step * h:
        raise ObservationError(f"camera image {w}x{h}, step {step}, {len(msg.data)} bytes: they do not agree")
    pixels = np.frombuffer(bytes(msg.data), np.uint8).reshape(h, step)[:, : 3 * w].reshape(h, w, 3)
    return pixels[:, :, ::-1].copy() if msg.encoding == "bgr8" else pixels.copy()


def quaternion_xyzw(rotation: np.ndarray) -> tuple[float, float, float, float]:
    q = pin.Quaternion(np.asarray(rotation, float))
    q.normalize()
    return float(q.x), float(q.y), float(q.z), float(q.w)


def palm_target(action: Action, side: str, stamp, frame: str) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame
    p = msg.pose.position
    p.x, p.y, p.z = (float(v) for v in action.palm_position_m[side])
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = quaternion_xyzw(action.palm_rotation[side])
    return msg


def gaze_target(action: Action, stamp, frame: str) -> PointStamped:
    msg = PointStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame
    msg.point.x, msg.point.y, msg.point.z = (float(v) for v in action.gaze_point_m)
    return msg


def torso_target(
    action: Action, stamp, odom_frame: str, base_rotation_world: np.ndarray, standing_torso_height_m: float
) -> PoseStamped:
    """The torso frame's target pose in odom (what wbc/targets/torso takes: its height above the
    floor and its orientation; x and y are balance's): the standing height plus the action's
    change, the action's roll and pitch from level, facing where the pelvis faces (the task
    expert's lean: a torso left at its own heading would drift about the vertical, nothing pulling
    it back, and carry the palms' `torso` frame with it). A target in a frame that moves with the
    robot (base_link) would sink with the pelvis it lowers.
    base_rotation_world: the pelvis's orientation now, from the IMU (odom's axes are the IMU's)."""
    r = np.asarray(base_rotation_world, float)
    yaw = math.atan2(r[1, 0], r[0, 0])
    goal = pin.utils.rpyToMatrix(action.torso_roll_rad, action.torso_pitch_rad, yaw)
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = stamp, odom_frame
    msg.pose.position.z = float(standing_torso_height_m + action.torso_height_m)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = quaternion_xyzw(goal)
    return msg


def hand_commands(action: Action, stamp) -> dict[str, HandCommand]:
    out = {}
    for side in SIDES:
        closure, spread, opposition = (float(v) for v in action.hand_synergies[side])
        msg = HandCommand(closure=closure, spread=spread, thumb_opposition=opposition)
        msg.header.stamp = stamp
        out[side] = msg
    return out
