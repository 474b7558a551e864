"""The planning scene from what perception sees: perception/objects (forma_interfaces/
DetectedObjectArray: boxes with a pose and a size in the array header's frame, e.g. `torso`) turned
into forma_planning's Scene in base_link with the robot's measured kinematics.

Two choices the planner node relies on, kept here where they are tested without ROS:
- every box is grown by a margin on every side: whole-body control moves the pelvis and the
  shoulder while the arm reaches out (measured: 1.7 cm back), which a plan made with the body still
  cannot know (tests/support/arm_execution.py's BALANCE_MARGIN_M);
- the object the hand is going to is not an obstacle for that goal: the box nearest the palm's
  target, if within `target_margin_m` of it (a grasp puts the palm beside the object, not in it).

Messages are read duck-typed (attribute access only), so tests feed the real message classes
without starting ROS. Nothing here imports rclpy.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_planning.errors import PlanRequestError
from forma_planning.scene import Box, Scene


@dataclasses.dataclass(frozen=True)
class PerceivedBox:
    """One detected object as perception gives it, in the frame of its array."""

    name: str  # the track id (e.g. "obj-17"), or the label when there is none
    label: str  # e.g. "cup"
    center_m: tuple[float, float, float]
    orientation_xyzw: tuple[float, float, float, float]
    size_m: tuple[float, float, float]  # full extents along the box's own axes [m]


@dataclasses.dataclass(frozen=True)
class PerceivedScene:
    """The objects of one perception/objects message: their frame and stamp (the camera's) [s]."""

    frame_id: str
    stamp_s: float
    boxes: tuple[PerceivedBox, ...]


def perceived_scene(msg) -> PerceivedScene:
    """forma_interfaces/DetectedObjectArray -> PerceivedScene; names made unique (a repeated id gets
    its index appended), the values as sent (Scene checks them when it is built)."""
    boxes, seen = [], set()
    for k, obj in enumerate(msg.objects):
        name = obj.id or obj.label or f"object_{k}"
        if name in seen:
            name = f"{name}#{k}"
        seen.add(name)
        p, o, s = obj.pose.position, obj.pose.orientation, obj.size_m
        boxes.append(PerceivedBox(name, obj.label, (p.x, p.y, p.z), (o.x, o.y, o.z, o.w), (s.x, s.y, s.z)))
    stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
    return PerceivedScene(msg.header.frame_id, stamp, tuple(boxes))


def box_in_base(box: PerceivedBox, base_from_frame: np.ndarray, margin_m: float) -> Box:
    """The box in base_link (base_from_frame: 4 x 4 T_base_frame of the array's frame), grown by
    margin_m on every side. A malformed box is refused (PlanRequestError) with its name."""
    values = np.array([*box.center_m, *box.orientation_xyzw, *box.size_m], dtype=float)
    if not np.all(np.isfinite(values)):
        raise PlanRequestError(f"perceived object {box.name!r} has non-finite numbers {values.tolist()}")
    x, y, z, w = box.orientation_xyzw
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if abs(norm - 1.0) > 0.01:
        raise PlanRequestError(f"perceived object {box.name!r}: orientation has norm {norm:.3f}, not a unit quaternion")
    rotation = pin.Quaternion(w / norm, x / norm, y / norm, z / norm).toRotationMatrix()
    in_frame = pin.SE3(rotation, np.array(box.center_m, dtype=float))
    in_base = pin.SE3(base_from_frame) * in_frame
    quat = pin.Quaternion(in_base.rotation).normalized().coeffs()  # x, y, z, w
    size = tuple(float(v) + 2.0 * margin_m for v in box.size_m)
    return Box(box.name, tuple(map(float, in_base.translation)), size, tuple(map(float, quat)))


def distance_to(box: Box, point_in_base_m: np.ndarray) -> float:
    """The distance of the point from the box [m]; 0 inside it."""
    x, y, z, w = box.orientation_in_base_xyzw
    rotation = pin.Quaternion(w, x, y, z).normalized().toRotationMatrix()
    local = rotation.T @ (np.asarray(point_in_base_m, float) - np.asarray(box.center_in_base_m, float))
    outside = np.maximum(np.abs(local) - np.asarray(box.size_m, float) / 2.0, 0.0)
    return float(np.linalg.norm(outside))


def nearest(perceived: PerceivedScene, base_from_frame: np.ndarray, point_in_base_m: np.ndarray) -> tuple[str, float]:
    """The perceived object nearest the point and its distance [m] (("", inf) with none): what a
    target's reason names when no object was taken for the hand's goal."""
    best = ("", math.inf)
    for box in perceived.boxes:
        distance = distance_to(box_in_base(box, base_from_frame, 0.0), point_in_base_m)
        best = min(best, (box.name, distance), key=lambda pair: pair[1])
    return best


def scene_in_base(
    perceived: PerceivedScene,
    base_from_frame: np.ndarray,
    margin_m: float,
    target_in_base_m: np.ndarray,
    target_margin_m: float,
) -> tuple[Scene, tuple[str, ...]]:
    """(the Scene in base_link, the name of the object left out as the hand's goal, if any).

    The hand's goal is the box nearest the palm's target among those within target_margin_m of it
    (as perceived, not grown): one object, so a neighbour of the goal stays an obstacle. Every
    other box is grown by margin_m."""
    for what, value in (("margin_m", margin_m), ("target_margin_m", target_margin_m)):
        if not (math.isfinite(value) and value >= 0.0):
            raise PlanRequestError(f"{what} {value} must be a finite number >= 0")
    as_seen = [box_in_base(box, base_from_frame, 0.0) for box in perceived.boxes]
    distances = [distance_to(box, target_in_base_m) for box in as_seen]
    goal = int(np.argmin(distances)) if distances and min(distances) <= target_margin_m else None
    kept = tuple(box_in_base(box, base_from_frame, margin_m) for k, box in enumerate(perceived.boxes) if k != goal)
    return Scene(boxes=kept), (() if goal is None else (perceived.boxes[goal].name,))
