"""What the teleop markers command, and the checks between a marker and the whole-body controller:
marker feedback (visualization_msgs/InteractiveMarkerFeedback) -> a WBC target message
(geometry_msgs PoseStamped / PointStamped), validated, and a rate limiter for dragging.

Pure: message objects and plain numbers in and out, no rclpy. The targets are expressed in the
frame of the marker (`base_link` or `torso`), which is the frame RViz reports a frame-locked
marker's feedback in; they are stamped with the robot's clock by the caller.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Hashable

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PointStamped, Pose, PoseStamped
from visualization_msgs.msg import InteractiveMarkerFeedback

from forma_teleop.errors import TeleopError


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """One commandable target of the whole-body controller."""

    name: str  # marker name and last part of the topic
    kind: str  # "pose" (6-DoF), "point" (3-DoF position) or "torso" (orientation + height)
    robot_frame: str  # the robot frame the marker starts at (gaze: in front of this frame)

    @property
    def topic(self) -> str:
        return f"wbc/targets/{self.name}"


TARGETS: dict[str, TargetSpec] = {
    "left_hand": TargetSpec("left_hand", "pose", "left_hand"),
    "right_hand": TargetSpec("right_hand", "pose", "right_hand"),
    "gaze": TargetSpec("gaze", "point", "head"),
    "torso": TargetSpec("torso", "torso", "torso"),
}
# Frames the whole-body controller takes targets in (DESIGN §4: the VLA's wrist poses are in torso).
MARKER_FRAMES = ("base_link", "torso")
# Events that carry the marker's pose as the operator left it; the others (MOUSE_DOWN, menu,
# button, keep-alive) command nothing.
POSE_EVENTS = (InteractiveMarkerFeedback.POSE_UPDATE, InteractiveMarkerFeedback.MOUSE_UP)


@dataclasses.dataclass(frozen=True)
class TeleopConfig:
    """The node's settings, checked together (each message names the parameter)."""

    frame: str = "base_link"  # frame of the markers and of the published targets
    targets: tuple[str, ...] = ("left_hand", "right_hand", "gaze", "torso")
    max_rate_hz: float = 20.0  # targets per second per marker while dragging [Hz]
    quaternion_tolerance: float = 0.01  # |‖q‖ − 1| up to this is normalised; beyond it is refused
    gaze_distance_m: float = 1.0  # the gaze marker starts this far in front of the head [m]

    def __post_init__(self) -> None:
        if self.frame not in MARKER_FRAMES:
            raise TeleopError(f"frame {self.frame!r}: the whole-body controller takes targets in {MARKER_FRAMES}")
        unknown = [t for t in self.targets if t not in TARGETS]
        if unknown or not self.targets:
            raise TeleopError(f"targets {list(self.targets)}: each must be one of {list(TARGETS)}, at least one")
        if len(set(self.targets)) != len(self.targets):
            raise TeleopError(f"targets {list(self.targets)} names a target twice")
        if self.frame == "torso" and "torso" in self.targets:
            raise TeleopError(
                "targets include torso with frame torso: a torso target in its own frame moves with itself; "
                "use frame base_link or leave torso out of targets"
            )
        if not (math.isfinite(self.max_rate_hz) and 1.0 <= self.max_rate_hz <= 100.0):
            raise TeleopError(f"max_rate_hz {self.max_rate_hz} outside 1..100")
        if not (math.isfinite(self.quaternion_tolerance) and 0.0 < self.quaternion_tolerance <= 0.1):
            raise TeleopError(f"quaternion_tolerance {self.quaternion_tolerance} outside (0, 0.1]")
        if not (math.isfinite(self.gaze_distance_m) and 0.2 <= self.gaze_distance_m <= 5.0):
            raise TeleopError(f"gaze_distance_m {self.gaze_distance_m} outside 0.2..5")


def is_zero(stamp: Time) -> bool:
    return stamp.sec == 0 and stamp.nanosec == 0


def checked_pose(pose: Pose, quaternion_tolerance: float) -> Pose:
    """A copy of `pose` with a unit quaternion, or TeleopError naming the bad value: non-finite
    numbers are refused, a quaternion whose norm is off by more than the tolerance is refused
    (it is not a rotation someone meant), a nearly-unit one is normalised."""
    p, o = pose.position, pose.orientation
    position = (p.x, p.y, p.z)
    if not all(math.isfinite(v) for v in position):
        raise TeleopError(f"position ({p.x}, {p.y}, {p.z}) is not finite")
    wxyz = (o.w, o.x, o.y, o.z)
    if not all(math.isfinite(v) for v in wxyz):
        raise TeleopError(f"orientation (w={o.w}, x={o.x}, y={o.y}, z={o.z}) is not finite")
    norm = math.sqrt(sum(v * v for v in wxyz))
    if abs(norm - 1.0) > quaternion_tolerance:
        raise TeleopError(
            f"orientation (w={o.w}, x={o.x}, y={o.y}, z={o.z}) has norm {norm:.4f}, not 1 within {quaternion_tolerance}"
        )
    out = Pose()
    out.position.x, out.position.y, out.position.z = (float(v) for v in position)
    out.orientation.w, out.orientation.x, out.orientation.y, out.orientation.z = (float(v / norm) for v in wxyz)
    return out


def target_from_feedback(
    feedback: InteractiveMarkerFeedback,
    marker_frame: str,
    stamp: Time,
    quaternion_tolerance: float = 0.01,
) -> PoseStamped | PointStamped | None:
    """Marker feedback -> the WBC target it commands, stamped `stamp` (the robot's clock), in the
    marker's frame. None for events that command nothing (mouse down, menu, button, keep-alive).
    TeleopError, naming the bad value, for an unknown marker, feedback in another frame than the
    marker's, non-finite numbers, a quaternion that is not a unit one, or no robot clock yet."""
    spec = TARGETS.get(feedback.marker_name)
    if spec is None:
        raise TeleopError(f"feedback for marker {feedback.marker_name!r}: the markers are {list(TARGETS)}")
    if feedback.event_type not in POSE_EVENTS:
        return None
    frame = feedback.header.frame_id
    if frame != marker_frame:
        raise TeleopError(
            f"feedback for {spec.name} in frame {frame!r}, the marker is in {marker_frame!r} "
            "(is the RViz marker display time-stamped instead of frame-locked?)"
        )
    if is_zero(stamp):
        raise TeleopError("no robot clock yet (no joint_states from the robot): target not stamped")
    if spec.kind == "point":
        p = feedback.pose.position
        if not all(math.isfinite(v) for v in (p.x, p.y, p.z)):
            raise TeleopError(f"gaze point ({p.x}, {p.y}, {p.z}) is not finite")
        msg = PointStamped()
        msg.header.stamp, msg.header.frame_id = stamp, frame
        msg.point.x, msg.point.y, msg.point.z = float(p.x), float(p.y), float(p.z)
        return msg
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame
    msg.pose = checked_pose(feedback.pose, quaternion_tolerance)
    return msg


class RateLimiter:
    """At most one item per key every 1/max_rate_hz seconds, the newest one always delivered:
    an item offered too soon is kept (replacing an older kept one) and handed out by `due` once
    its interval has passed, so the pose the operator let go of is never lost. Times are a
    steady clock [s], supplied by the caller."""

    def __init__(self, max_rate_hz: float) -> None:
        if not (math.isfinite(max_rate_hz) and max_rate_hz > 0):
            raise TeleopError(f"max_rate_hz {max_rate_hz} must be a positive number")
        self.period_s = 1.0 / max_rate_hz
        self.last_sent_s: dict[Hashable, float] = {}
        self.pending: dict[Hashable, object] = {}

    def offer(self, key: Hashable, item, now_s: float):
        """The item if it may go now (the caller sends it), else None (kept for `due`)."""
        last = self.last_sent_s.get(key)
        if last is None or now_s - last >= self.period_s:
            self.last_sent_s[key] = now_s
            self.pending.pop(key, None)
            return item
        self.pending[key] = item
        return None

    def due(self, now_s: float) -> list[tuple[Hashable, object]]:
        """Kept items whose interval has passed, to send now."""
        out = []
        for key in list(self.pending):
            if now_s - self.last_sent_s[key] >= self.period_s:
                self.last_sent_s[key] = now_s
                out.append((key, self.pending.pop(key)))
        return out

    def drop(self, key: Hashable) -> None:
        """Forget a kept item (its marker was reset)."""
        self.pending.pop(key, None)


_NAME_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_namespace(namespace: str) -> str:
    """A valid ROS name for the marker server's namespace (relative or absolute), or TeleopError."""
    tokens = namespace[1:].split("/") if namespace.startswith("/") else namespace.split("/")
    if not namespace or not all(_NAME_TOKEN.match(t) for t in tokens):
        raise TeleopError(
            f"server_namespace {namespace!r} is not a ROS name (letters, digits, _ and / between tokens, "
            "e.g. 'teleop' or '/forma/teleop')"
        )
    return namespace
