"""The interactive markers RViz shows for each target (visualization_msgs/InteractiveMarker), and
where they start: at the robot's current palms, torso, and a point in front of the head, by
forward kinematics of the joint positions (forma_description.frames).

Pure: no rclpy. Controls per target:
- hands: 6-DoF — move along the marker frame's x, y, z (fixed axes: forward, left, up) and
  rotate about the palm's own axes;
- gaze: 3-DoF — move along x, y, z, or drag the sphere in the view plane;
- torso: height (move along z) and orientation (rotate about its own x, y, z).
Each has a right-click menu entry that puts the markers back at the robot's current pose.

The markers' header stamp is zero, so RViz keeps them locked to their frame and reports feedback
in that frame (rviz_default_plugins InteractiveMarker::publishFeedback).
"""

from __future__ import annotations

import math

import numpy as np
from geometry_msgs.msg import Pose
from visualization_msgs.msg import InteractiveMarker, InteractiveMarkerControl, Marker, MenuEntry

from forma_teleop.errors import TeleopError
from forma_teleop.targets import TARGETS, TeleopConfig

_H = math.sqrt(0.5)
# A control acts along / about the x axis of its orientation: these turn x onto each axis.
AXIS_ORIENTATION_WXYZ = {"x": (_H, _H, 0.0, 0.0), "y": (_H, 0.0, 0.0, _H), "z": (_H, 0.0, -_H, 0.0)}
COLORS_RGBA = {
    "left_hand": (0.1, 0.8, 0.2, 0.8),
    "right_hand": (0.9, 0.2, 0.1, 0.8),
    "gaze": (0.2, 0.5, 1.0, 0.8),
    "torso": (0.9, 0.8, 0.2, 0.5),
}
RESET_MENU_ID = 1  # right-click menu entry: put the markers back at the robot's pose
SCALE_M = {"left_hand": 0.2, "right_hand": 0.2, "gaze": 0.15, "torso": 0.45}  # size of the handles [m]
DESCRIPTIONS = {
    "left_hand": "left hand target",
    "right_hand": "right hand target",
    "gaze": "gaze point",
    "torso": "torso: height and orientation",
}


def pose_msg(position, wxyz) -> Pose:
    """position [m] and unit quaternion (w, x, y, z) -> geometry_msgs/Pose."""
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = (float(v) for v in wxyz)
    return pose


def _axis_control(name: str, mode: int, axis: str, orientation_mode: int) -> InteractiveMarkerControl:
    control = InteractiveMarkerControl()
    control.name = name
    control.interaction_mode = mode
    control.orientation_mode = orientation_mode
    o = control.orientation
    o.w, o.x, o.y, o.z = AXIS_ORIENTATION_WXYZ[axis]
    return control


def _visual(name: str, shape: int, size_m: tuple[float, float, float], mode: int) -> InteractiveMarkerControl:
    """A control that shows the target itself (and, for mode MOVE_3D, drags it in the view plane)."""
    marker = Marker()
    marker.type = shape
    marker.scale.x, marker.scale.y, marker.scale.z = size_m
    marker.color.r, marker.color.g, marker.color.b, marker.color.a = COLORS_RGBA[name]
    control = InteractiveMarkerControl()
    control.name = "body" if mode == InteractiveMarkerControl.NONE else "move_3d"
    control.always_visible = True
    control.interaction_mode = mode
    control.markers.append(marker)
    return control


def target_marker(name: str, frame: str, position, wxyz=(1.0, 0.0, 0.0, 0.0)) -> InteractiveMarker:
    """The interactive marker of target `name` in `frame`, at position [m] / orientation wxyz."""
    spec = TARGETS.get(name)
    if spec is None:
        raise TeleopError(f"no marker for target {name!r}: the targets are {list(TARGETS)}")
    position, wxyz = np.asarray(position, float), np.asarray(wxyz, float)
    finite = bool(np.all(np.isfinite(position)) and np.all(np.isfinite(wxyz)))
    if position.shape != (3,) or wxyz.shape != (4,) or not finite:
        raise TeleopError(f"{name} marker pose {position.tolist()} {wxyz.tolist()} is not a finite position and wxyz")
    norm = float(np.linalg.norm(wxyz))
    if abs(norm - 1.0) > 1e-6:
        raise TeleopError(f"{name} marker orientation {wxyz.tolist()} has norm {norm:.6f}, not 1")
    marker = InteractiveMarker()
    marker.header.frame_id = frame  # stamp left zero: frame-locked
    marker.name = name
    marker.description = DESCRIPTIONS[name]
    marker.scale = SCALE_M[name]
    marker.menu_entries.append(
        MenuEntry(id=RESET_MENU_ID, parent_id=0, title="Back to the robot's pose", command_type=MenuEntry.FEEDBACK)
    )
    C = InteractiveMarkerControl  # noqa: N806 (the message's constants)
    if spec.kind == "point":
        marker.pose = pose_msg(position, (1.0, 0.0, 0.0, 0.0))
        marker.controls.append(_visual(name, Marker.SPHERE, (0.06, 0.06, 0.06), C.MOVE_3D))
        for axis in "xyz":
            marker.controls.append(_axis_control(f"move_{axis}", C.MOVE_AXIS, axis, C.FIXED))
        return marker
    marker.pose = pose_msg(position, wxyz)
    if spec.kind == "pose":
        marker.controls.append(_visual(name, Marker.CUBE, (0.08, 0.02, 0.10), C.NONE))  # a palm-sized plate
        for axis in "xyz":
            marker.controls.append(_axis_control(f"move_{axis}", C.MOVE_AXIS, axis, C.FIXED))
            marker.controls.append(_axis_control(f"rotate_{axis}", C.ROTATE_AXIS, axis, C.INHERIT))
    else:  # torso: orientation and height
        marker.controls.append(_visual(name, Marker.CUBE, (0.18, 0.30, 0.05), C.NONE))
        marker.controls.append(_axis_control("move_z", C.MOVE_AXIS, "z", C.FIXED))
        for axis in "xyz":
            marker.controls.append(_axis_control(f"rotate_{axis}", C.ROTATE_AXIS, axis, C.INHERIT))
    return marker


def initial_target_poses(frames, config: TeleopConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Where each marker starts, in config.frame: the hands at the palms (`left_hand`,
    `right_hand`), the torso at `torso`, the gaze point gaze_distance_m along the head's x axis
    (forward). `frames` is a forma_description.frames.RobotFrames updated with the joint states."""
    poses = {}
    for name in config.targets:
        spec = TARGETS[name]
        if spec.kind == "point":
            t = frames.transform(config.frame, spec.robot_frame)
            ahead = t @ np.array([config.gaze_distance_m, 0.0, 0.0, 1.0])
            poses[name] = (ahead[:3], np.array([1.0, 0.0, 0.0, 0.0]))
        else:
            poses[name] = frames.pose(config.frame, spec.robot_frame)
    return poses
