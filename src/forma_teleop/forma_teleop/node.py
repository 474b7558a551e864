"""The teleop markers node: interactive markers for the whole-body controller's targets (both
hands, gaze, torso), served to RViz; dragging a marker publishes wbc/targets/<name>.

On a ROS 2 install it serves them with the standard `interactive_markers` library; where that is
not importable (the pip side) with forma_teleop.marker_server, which speaks the same protocol, so
RViz on another machine drives the robot either way. The markers start at the robot's current
palms, torso and a point in front of the head (forward kinematics of the first joint_states on
robot_description); `<ns>/reset` or the markers' right-click menu puts them back there.
joint_states goes through the executor only while markers are being placed.

Every target is checked (targets.py: finite, unit quaternion, the marker's frame, a robot clock)
and stamped with the robot's clock: the stamp of the newest joint_states, read when a marker moves
(no /clock, no wake-up per message: the node idles at no cost, and the stamp is the robot's in sim
and on hardware alike). A refused target is logged with its reason, sends nothing and snaps the
marker back to the last accepted pose. While dragging, each target goes out at most max_rate_hz
times a second, the last pose always (a timer runs only while one is held back).
"""

from __future__ import annotations

import dataclasses
import time

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PointStamped, Pose, PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import InteractiveMarkerFeedback

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_description.frames import RobotFrames
from forma_teleop.errors import TeleopError
from forma_teleop.marker_server import MarkerServer
from forma_teleop.markers import RESET_MENU_ID, initial_target_poses, pose_msg, target_marker
from forma_teleop.targets import (
    MARKER_FRAMES,
    TARGETS,
    RateLimiter,
    TeleopConfig,
    check_namespace,
    target_from_feedback,
)

qos.TARGETS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)  # DESIGN §5: commands keep-last-1
BACKENDS = ("auto", "interactive_markers", "forma")


class TeleopFrames(RobotFrames):
    """Forward kinematics with TeleopError for bad input."""

    error = TeleopError


def make_server(node: Node, namespace: str, backend: str):
    """(server, backend used): the standard library's server when importable (or asked for), else ours."""
    if backend not in BACKENDS:
        raise TeleopError(f"server_backend {backend!r}: use one of {BACKENDS}")
    if backend != "forma":
        try:
            from interactive_markers import InteractiveMarkerServer
        except ImportError as exc:
            if backend == "interactive_markers":
                raise TeleopError(
                    f"server_backend interactive_markers: the library is not importable ({exc}); "
                    "install ros-jazzy-interactive-markers or use server_backend auto"
                ) from exc
        else:
            return InteractiveMarkerServer(node, namespace), "interactive_markers"
    return MarkerServer(node, namespace), "forma"


@dataclasses.dataclass(frozen=True)
class TeleopParams:
    """The node's parameters; the first five are TeleopConfig's (same names and defaults)."""

    frame: str = param(TeleopConfig.frame, "frame of the markers and of the published targets", choices=MARKER_FRAMES)
    targets: list[str] = param(list(TeleopConfig.targets), "targets that get a marker", choices=tuple(TARGETS))
    max_rate_hz: float = param(
        TeleopConfig.max_rate_hz,
        "while dragging, each target is published at most this often",
        unit="Hz",
        low=1.0,
        high=100.0,
    )
    quaternion_tolerance: float = param(
        TeleopConfig.quaternion_tolerance,
        "an orientation whose norm is off 1 by at most this is normalised; more is refused",
        low=1e-6,
        high=0.1,
    )
    gaze_distance_m: float = param(
        TeleopConfig.gaze_distance_m,
        "the gaze marker starts this far in front of the head",
        unit="m",
        low=0.2,
        high=5.0,
    )
    server_namespace: str = param("teleop", "interactive marker server namespace (RViz: Interactive Markers Namespace)")
    server_backend: str = param(
        "auto",
        "auto: the interactive_markers library if installed, else Forma's own server; "
        "interactive_markers or forma to insist on one",
        choices=BACKENDS,
    )


class TeleopMarkersNode(Node):
    """Interactive markers -> wbc/targets/{left_hand,right_hand,gaze,torso}."""

    PARAMS = (TeleopParams,)

    def __init__(self, node_name: str = "teleop_markers", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, TeleopParams, error=TeleopError)
        self.config = TeleopConfig(  # checks what goes together: no torso target in frame torso, no repeats
            frame=p.frame,
            targets=tuple(p.targets),
            max_rate_hz=p.max_rate_hz,
            quaternion_tolerance=p.quaternion_tolerance,
            gaze_distance_m=p.gaze_distance_m,
        )
        self.namespace = check_namespace(p.server_namespace)
        self.server, self.backend = make_server(self, self.namespace, p.server_backend)
        self.limiter = RateLimiter(self.config.max_rate_hz)
        self.publishers_by_target = {
            name: self.create_publisher(
                PointStamped if TARGETS[name].kind == "point" else PoseStamped, TARGETS[name].topic, qos.TARGETS
            )
            for name in self.config.targets
        }
        self.accepted_pose: dict[str, Pose] = {}  # the pose each marker snaps back to on a refusal
        self.sent = {name: 0 for name in self.config.targets}
        self.refused = 0
        self.frames: TeleopFrames | None = None
        self.joint_sub = None
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.create_service(Trigger, f"{self.namespace}/reset", self._on_reset)
        # the robot's clock: the newest joint_states' stamp, taken when a target is stamped
        self.robot_clock_in = DirectSubscription(self, JointState, "joint_states", qos.NEWEST)
        steady = Clock(clock_type=ClockType.STEADY_TIME)  # the rate limit runs on wall time, also when sim time stops
        self.flush_timer = self.create_timer(1.0 / self.config.max_rate_hz, self._flush, clock=steady)
        self.flush_timer.cancel()  # started while a target is held back by the rate limit
        self.get_logger().info(
            f"interactive markers {list(self.config.targets)} in {self.config.frame} on {self.namespace} "
            f"({self.backend} server); waiting for robot_description and joint_states to place them"
        )

    # --- placing the markers -------------------------------------------------------------------
    def _on_description(self, msg: String) -> None:
        try:
            frames = TeleopFrames(msg.data)
            missing = [
                f
                for f in {self.config.frame, *(TARGETS[t].robot_frame for t in self.config.targets)}
                if not frames.has(f)
            ]
            if missing:
                raise TeleopError(f"robot_description lacks the frames {sorted(missing)} the markers need")
        except TeleopError as exc:
            self.get_logger().error(f"markers not placed: {exc}")
            return
        self.frames = frames
        self._follow_joint_states()

    def _on_reset(self, _request, response):
        if self.frames is None:
            response.success, response.message = False, "no robot_description yet: markers cannot be placed"
            return response
        self._follow_joint_states()
        response.success, response.message = True, "markers go back to the robot's pose with the next joint_states"
        return response

    def _follow_joint_states(self) -> None:
        if self.joint_sub is None:
            self.joint_sub = self.create_subscription(JointState, "joint_states", self._on_joint_states, qos.SENSORS)

    def _on_joint_states(self, msg: JointState) -> None:
        if self.joint_sub is None or self.frames is None:
            return
        try:
            self.frames.update(msg.name, msg.position)
            poses = initial_target_poses(self.frames, self.config)
        except TeleopError as exc:
            self.get_logger().error(f"markers not placed: {exc}", throttle_duration_sec=5.0)
            return
        self.destroy_subscription(self.joint_sub)
        self.joint_sub = None
        for name, (position, wxyz) in poses.items():
            marker = target_marker(name, self.config.frame, position, wxyz)
            self.limiter.drop(name)
            self.accepted_pose[name] = marker.pose
            self.server.insert(marker, feedback_callback=self._on_feedback)
        self.server.applyChanges()
        where = ", ".join(f"{n} ({p[0]:+.2f}, {p[1]:+.2f}, {p[2]:+.2f})" for n, (p, _) in poses.items())
        self.get_logger().info(f"markers placed at the robot's pose, m in {self.config.frame}: {where}")

    # --- feedback -> targets ---------------------------------------------------------------------
    def _on_feedback(self, feedback: InteractiveMarkerFeedback) -> None:
        name = feedback.marker_name
        if feedback.event_type == feedback.MENU_SELECT and feedback.menu_entry_id == RESET_MENU_ID:
            self.get_logger().info(f"markers back to the robot's pose (menu of {name})")
            self._follow_joint_states()
            return
        try:
            stamp = self._robot_now()
            target = target_from_feedback(feedback, self.config.frame, stamp, self.config.quaternion_tolerance)
        except TeleopError as exc:
            self.refused += 1
            self.get_logger().warning(f"{name} target refused, nothing sent: {exc}")
            if name in self.accepted_pose:  # show the operator where the target still is
                self.server.setPose(name, self.accepted_pose[name])
            return
        if target is None:
            return
        self.accepted_pose[name] = (
            target.pose
            if isinstance(target, PoseStamped)
            else pose_msg((target.point.x, target.point.y, target.point.z), (1.0, 0.0, 0.0, 0.0))
        )
        ready = self.limiter.offer(name, target, time.monotonic())
        if ready is not None:
            self._publish(name, ready)
        elif self.flush_timer.is_canceled():
            self.flush_timer.reset()

    def _flush(self) -> None:
        """Targets held back by the rate limit, once their interval has passed (restamped now)."""
        for name, target in self.limiter.due(time.monotonic()):
            target.header.stamp = self._robot_now()
            self._publish(name, target)
        if not self.limiter.pending:
            self.flush_timer.cancel()

    def _robot_now(self) -> Time:
        """The robot's time: the newest joint_states stamp (zero before the first: refused)."""
        msg = self.robot_clock_in.take_newest() or self.robot_clock_in.latest
        return msg.header.stamp if msg is not None else Time()

    def _publish(self, name: str, target) -> None:
        self.publishers_by_target[name].publish(target)
        self.sent[name] += 1

    def destroy_node(self) -> None:
        self.server.shutdown()
        self.robot_clock_in.destroy()
        super().destroy_node()


def main(args=None) -> None:
    """Run the teleop markers alone: `ros2 run forma_teleop teleop_markers`."""
    run_node(TeleopMarkersNode, (TeleopError,), args)
