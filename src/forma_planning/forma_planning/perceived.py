"""The planning scene from what perception sees: perception/objects (forma_interfaces/
DetectedObjectArray: boxes with a pose and a size in the array header's frame, e.g. `torso`) turned
into forma_planning's Scene in base_link with the robot's measured kinematics.

Two choices the planner node relies on, kept here where they are tested without ROS:
- every box is grown by a margin on every side: whole-body control moves the pelvis and the
  shoulder while the arm reaches out (measured: 1.7 cm back), which a plan made with the body still
  cannot know (tests/support/arm_execution.py's BALANCE_MARGIN_M);
- the object the hand is going to is not an obstacle for that goal: the box nearest the palm's
  target, if within `target_margin_m` of it (a grasp puts the palm beside the object, not in it;
  the task skills' pick: its pre-grasp pose 12 cm behind and above the cup's box, every later pose
  nearer; the approach to the pre-grasp pose from 6 cm above it is about 15 cm away, so the cup may
  stay an obstacle there, which the hand must not sweep anyway). A larger margin (0.2 m) took the
  box halfway along a 50 cm reach for its goal (tests/system/test_planner_dds.py);
- the support plane (perception/support_plane, geometry_msgs/PolygonStamped: the outline of the
  table top as seen, points on its surface) becomes a SupportPlane fitted to the outline's points
  with the outline's rectangle in base_link as its extent, lowered by a margin: a hand grasping an
  object standing on the table comes within a few centimetres of the top, and the perceived top is
  good to about a centimetre (perception's inlier band).

Messages are read duck-typed (attribute access only), so tests feed the real message classes
without starting ROS. Nothing here imports rclpy.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_planning.errors import PlanRequestError
from forma_planning.scene import Box, Scene, SupportPlane

MIN_OUTLINE_POINTS = 3  # a polygon with fewer points says "no plane seen in this frame"


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


@dataclasses.dataclass(frozen=True)
class PerceivedPlane:
    """The support plane's outline of one perception/support_plane message (empty: none seen)."""

    frame_id: str
    stamp_s: float
    points_m: np.ndarray  # K x 3, on the surface, in frame_id


def perceived_plane(msg) -> PerceivedPlane:
    """geometry_msgs/PolygonStamped -> PerceivedPlane (the values as sent: checked when fitted)."""
    points = np.array([[p.x, p.y, p.z] for p in msg.polygon.points], dtype=float).reshape(-1, 3)
    stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
    return PerceivedPlane(msg.header.frame_id, stamp, points)


def support_plane_in_base(
    plane: PerceivedPlane, base_from_frame: np.ndarray, lowered_m: float, name: str = "support_plane"
) -> SupportPlane | None:
    """The plane through the outline's points (least squares, normal up) in base_link, its top
    `lowered_m` lower, the extent the outline's rectangle along base_link x, y; None without an
    outline (fewer than MIN_OUTLINE_POINTS). Non-finite points or a plane whose normal is not up
    (not a support) are refused (PlanRequestError)."""
    if len(plane.points_m) < MIN_OUTLINE_POINTS:
        return None
    if not np.all(np.isfinite(plane.points_m)):
        raise PlanRequestError(f"support plane {name!r}: the outline has non-finite points")
    if not (math.isfinite(lowered_m) and lowered_m >= 0.0):
        raise PlanRequestError(f"lowered_m {lowered_m} must be a finite number >= 0")
    transform = np.asarray(base_from_frame, dtype=float)
    points = plane.points_m @ transform[:3, :3].T + transform[:3, 3]
    centre = points.mean(axis=0)
    _, vectors = np.linalg.eigh((points - centre).T @ (points - centre))
    normal = vectors[:, 0] if vectors[2, 0] >= 0.0 else -vectors[:, 0]  # the weakest direction
    if normal[2] < math.cos(math.radians(45.0)):
        raise PlanRequestError(
            f"support plane {name!r}: normal {np.round(normal, 3).tolist()} in base_link is not up (collinear "
            "outline points, or the wrong frame)"
        )
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    if np.any(high - low <= 0.0):
        return None
    return SupportPlane(
        name, tuple(map(float, normal)), float(normal @ centre) - lowered_m,
        tuple(map(float, (low + high) / 2.0)), tuple(map(float, high - low)),
    )  # fmt: skip


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


def goal_object(boxes: list[Box], target_in_base_m: np.ndarray, target_margin_m: float) -> int | None:
    """The index of the box the hand goes to: the nearest to the palm's target among those within
    target_margin_m of it (the boxes as perceived, not grown), or None. One object: a neighbour of
    the goal stays an obstacle."""
    distances = [distance_to(box, target_in_base_m) for box in boxes]
    if not distances or min(distances) > target_margin_m:
        return None
    return int(np.argmin(distances))


def near_target(
    perceived: PerceivedScene, base_from_frame: np.ndarray, target_in_base_m: np.ndarray, target_margin_m: float
) -> tuple[str, ...]:
    """The names of every perceived box within target_margin_m of the palm's target (as perceived):
    what the hand is sent beside. The planner leaves them out when the target pose itself touches
    them (grown): in the sim pick the cup's box was seen twice, the nearer taken for the goal, and
    the other one, 12 cm from the pre-grasp target, blocked every IK solution there."""
    boxes = [box_in_base(box, base_from_frame, 0.0) for box in perceived.boxes]
    return tuple(
        p.name for p, box in zip(perceived.boxes, boxes, strict=True)
        if distance_to(box, target_in_base_m) <= target_margin_m
    )  # fmt: skip


def scene_in_base(
    perceived: PerceivedScene,
    base_from_frame: np.ndarray,
    margin_m: float,
    target_in_base_m: np.ndarray,
    target_margin_m: float,
    planes: tuple[SupportPlane, ...] = (),
) -> tuple[Scene, tuple[str, ...]]:
    """(the Scene in base_link with `planes`, the name of the object left out as the hand's goal, if
    any): the goal by `goal_object`, every other box grown by margin_m."""
    for what, value in (("margin_m", margin_m), ("target_margin_m", target_margin_m)):
        if not (math.isfinite(value) and value >= 0.0):
            raise PlanRequestError(f"{what} {value} must be a finite number >= 0")
    as_seen = [box_in_base(box, base_from_frame, 0.0) for box in perceived.boxes]
    goal = goal_object(as_seen, target_in_base_m, target_margin_m)
    kept = tuple(box_in_base(box, base_from_frame, margin_m) for k, box in enumerate(perceived.boxes) if k != goal)
    return Scene(boxes=kept, planes=planes), (() if goal is None else (perceived.boxes[goal].name,))
