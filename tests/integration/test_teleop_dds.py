"""The teleop markers node as deployed, over real DDS, beside the lockstep sim: a client speaking
the interactive-marker protocol as RViz does (get_interactive_markers, update, feedback) gets the
markers at the robot's palms (within 1 cm of forward kinematics of the joint states), drags the
right hand and the gaze point and receives the targets on wbc/targets/* in base_link, stamped
with the robot's clock; NaN and wrong-frame feedback is refused with the reason logged, sends
nothing and snaps the marker back; a burst of drags is rate-limited with the last pose delivered;
reset puts the markers back at the palms. Bad parameters are refused at start."""

from __future__ import annotations

import importlib.util
import math
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.context import Context
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import InteractiveMarkerFeedback, InteractiveMarkerUpdate
from visualization_msgs.srv import GetInteractiveMarkers

from forma_description.frames import RobotFrames
from forma_interfaces.srv import StepSimulation
from forma_teleop.errors import TeleopError
from forma_teleop.markers import RESET_MENU_ID, pose_msg
from forma_teleop.node import TeleopMarkersNode
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.integration
RATE_HZ = 2.0  # low, so that a burst of drags shows the limit whatever the machine's speed
NS = "teleop"
# On the pip side the standard library is not installed and the node serves the protocol itself;
# with the library on PYTHONPATH (docs/VERIFICATION.md) the same tests run against it.
LIBRARY = importlib.util.find_spec("interactive_markers") is not None


def deployment_file(tmp) -> str:
    sim = node("sim", world="empty", mode="lockstep", **{"camera.rate_hz": 0.0})
    teleop = node("teleop_markers", max_rate_hz=RATE_HZ)
    return write_deployment(tmp, "teleop_lockstep", [process("sim", sim), process("teleop", teleop)])


def feedback(name: str, xyz, wxyz=(1.0, 0.0, 0.0, 0.0), frame="base_link", event=InteractiveMarkerFeedback.POSE_UPDATE):
    fb = InteractiveMarkerFeedback(marker_name=name, event_type=event, client_id="/probe_rviz")
    fb.header.frame_id = frame
    fb.pose = pose_msg(xyz, wxyz)
    return fb


def xyz(pose) -> np.ndarray:
    return np.array([pose.position.x, pose.position.y, pose.position.z])


class Rig:
    def __init__(self, probe: RosProbe, launched: LaunchedDeployment):
        self.probe, self.launched = probe, launched
        self.description = probe.collect(String, "robot_description", latched=True)
        self.joints = probe.collect(JointState, "joint_states", keep=2)
        self.updates = probe.collect(InteractiveMarkerUpdate, f"{NS}/update", depth=100)
        self.targets = {
            "right_hand": probe.collect(PoseStamped, "wbc/targets/right_hand", depth=50),
            "left_hand": probe.collect(PoseStamped, "wbc/targets/left_hand", depth=50),
            "gaze": probe.collect(PointStamped, "wbc/targets/gaze", depth=50),
        }
        self.feedback_pub = probe.node.create_publisher(InteractiveMarkerFeedback, f"{NS}/feedback", 10)

    def step(self, periods: int = 1, timeout_s: float = 30.0) -> float:
        reply = self.probe.call(StepSimulation, "sim/step", StepSimulation.Request(periods=periods), timeout_s=60)
        assert reply.success, reply.message
        self.probe.wait_for(
            lambda: self.joints and abs(stamp_s(self.joints[-1]) - reply.sim_time_s) < 1e-6, timeout_s, "joint_states"
        )
        return reply.sim_time_s

    def markers(self) -> dict:
        reply = self.probe.call(GetInteractiveMarkers, f"{NS}/get_interactive_markers", GetInteractiveMarkers.Request())
        return {m.name: m for m in reply.markers}, reply.sequence_number

    def send(self, fb: InteractiveMarkerFeedback) -> None:
        self.feedback_pub.publish(fb)

    def palms(self) -> dict[str, np.ndarray]:
        frames = RobotFrames(self.description[-1].data)
        frames.update(self.joints[-1].name, self.joints[-1].position)
        return {hand: frames.pose("base_link", hand)[0] for hand in ("left_hand", "right_hand")}


@pytest.fixture(scope="module")
def rig(tmp_path_factory, module_domain_id):
    tmp = tmp_path_factory.mktemp("teleop")
    with (
        LaunchedDeployment(deployment_file(tmp), module_domain_id, tmp / "logs") as launched,
        RosProbe(module_domain_id, name="teleop_probe") as probe,
    ):
        rig = Rig(probe, launched)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the node places its markers with the first joint_states it sees
            try:
                rig.step(1, timeout_s=2.0)  # the first steps' joint_states may go out before discovery ends
                markers, _ = rig.markers()
            except AssertionError:  # not discovered / service not up yet
                continue
            if len(markers) == 4:
                rig.palms_at_placement = rig.palms()  # FK of the joint states the node placed them with
                break
            time.sleep(0.1)
        # interactive_markers ignores a client's feedback for 1 s (node clock: sim time here) after
        # a marker is created, taking it for a second client; a running robot is past that at once
        rig.step(600)
        yield rig
    assert launched.exit_code == 0, launched.output[-3000:]
    assert launched.leftovers() == []


def test_markers_start_at_the_palms_with_their_controls(rig):
    markers, seq = rig.markers()
    assert set(markers) == {"left_hand", "right_hand", "gaze", "torso"}, rig.launched.output[-2000:]
    assert seq >= 1
    palms = rig.palms_at_placement
    for hand in ("left_hand", "right_hand"):
        marker = markers[hand]
        assert marker.header.frame_id == "base_link"
        assert np.linalg.norm(xyz(marker.pose) - palms[hand]) < 0.01, f"{hand} marker off the palm"
        names = {c.name for c in marker.controls}
        assert {f"{m}_{a}" for m in ("move", "rotate") for a in "xyz"} <= names
    assert {c.name for c in markers["gaze"].controls} == {"move_3d", "move_x", "move_y", "move_z"}
    backend = "interactive_markers" if LIBRARY else "forma"
    assert f"({backend} server)" in rig.launched.output, "the library where installed, else our own server"


def test_dragging_publishes_targets_stamped_with_the_robot_clock_and_bad_feedback_is_refused(rig):
    now = rig.step(5)
    goal = (0.35, -0.25, 0.05)
    q = (math.cos(0.25), 0.0, math.sin(0.25), 0.0)
    seq0 = rig.markers()[1]
    rig.send(feedback("right_hand", goal, q))
    right = rig.targets["right_hand"]
    rig.probe.wait_for(lambda: len(right) == 1, 30, "wbc/targets/right_hand")
    target = right[0]
    assert target.header.frame_id == "base_link"
    assert stamp_s(target) == pytest.approx(now, abs=1e-6), "stamped with the robot's (sim) clock"
    np.testing.assert_allclose(xyz(target.pose), goal, atol=1e-12)
    o = target.pose.orientation
    np.testing.assert_allclose((o.w, o.x, o.y, o.z), q, atol=1e-12)
    # the server moves the marker for every client too, in a numbered update
    rig.probe.wait_for(
        lambda: any(p.name == "right_hand" and xyz(p.pose)[0] == goal[0] for u in rig.updates for p in u.poses),
        30,
        "the pose update",
    )
    assert rig.markers()[1] > seq0

    rig.send(feedback("right_hand", (math.nan, -0.25, 0.05), q))
    rig.probe.wait_for(lambda: "right_hand target refused, nothing sent" in rig.launched.output, 30, "the refusal")
    assert "position (nan, -0.25, 0.05) is not finite" in rig.launched.output
    rig.send(feedback("right_hand", (0.3, -0.2, 0.0), frame="odom"))
    rig.probe.wait_for(lambda: "in frame 'odom', the marker is in 'base_link'" in rig.launched.output, 30, "frame")
    markers, _ = rig.markers()
    np.testing.assert_allclose(xyz(markers["right_hand"].pose), goal, atol=1e-12, err_msg="snapped back")

    later = (0.30, -0.30, 0.10)
    rig.send(feedback("right_hand", later, q, event=InteractiveMarkerFeedback.MOUSE_UP))
    rig.probe.wait_for(lambda: len(right) == 2, 30, "the next good target (held by the rate limit, then sent)")
    np.testing.assert_allclose(xyz(right[1].pose), later, atol=1e-12)
    assert all(np.all(np.isfinite(xyz(t.pose))) for t in right), "nothing refused was published"
    assert all(t.header.frame_id == "base_link" for t in right)

    rig.send(feedback("gaze", (1.2, 0.1, 0.3)))
    gaze = rig.targets["gaze"]
    rig.probe.wait_for(lambda: len(gaze) == 1, 30, "wbc/targets/gaze")
    assert (gaze[0].point.x, gaze[0].point.y, gaze[0].point.z) == (1.2, 0.1, 0.3)
    assert gaze[0].header.frame_id == "base_link" and stamp_s(gaze[0]) == pytest.approx(now, abs=1e-6)


def test_a_burst_of_drags_is_rate_limited_and_the_last_pose_arrives(rig):
    left = rig.targets["left_hand"]
    burst = 20
    start = time.monotonic()
    for i in range(burst):
        rig.send(feedback("left_hand", (0.2 + 0.01 * i, 0.25, 0.0)))
        time.sleep(0.002)
    elapsed_s = time.monotonic() - start
    last_x = 0.2 + 0.01 * (burst - 1)
    rig.probe.wait_for(lambda: left and left[-1].pose.position.x == pytest.approx(last_x), 30, "the last pose")
    allowed = 1 + math.ceil(elapsed_s * RATE_HZ) + 1  # the first at once, one per period, the last one after
    assert len(left) <= min(allowed, burst - 1), f"{len(left)} targets in {elapsed_s:.2f} s at {RATE_HZ} Hz"


def test_reset_puts_the_markers_back_at_the_palms(rig):
    rig.send(feedback("left_hand", (0.45, 0.3, 0.2)))
    rig.probe.wait_for(
        lambda: np.allclose(xyz(rig.markers()[0]["left_hand"].pose), (0.45, 0.3, 0.2)), 30, "the dragged marker"
    )
    assert rig.probe.call(Trigger, f"{NS}/reset", Trigger.Request()).success
    time.sleep(0.3)  # let the node subscribe to joint_states again (discovery), then step
    deadline = time.monotonic() + 30
    while np.allclose(xyz(rig.markers()[0]["left_hand"].pose), (0.45, 0.3, 0.2)) and time.monotonic() < deadline:
        rig.step(1)
        time.sleep(0.1)
    palms = rig.palms()
    assert np.linalg.norm(xyz(rig.markers()[0]["left_hand"].pose) - palms["left_hand"]) < 0.01

    # the same from RViz's right-click menu on a marker
    rig.send(feedback("right_hand", (0.45, -0.3, 0.2)))
    rig.probe.wait_for(
        lambda: np.allclose(xyz(rig.markers()[0]["right_hand"].pose), (0.45, -0.3, 0.2)), 30, "the dragged marker"
    )
    menu = feedback("right_hand", (0.45, -0.3, 0.2), event=InteractiveMarkerFeedback.MENU_SELECT)
    menu.menu_entry_id = RESET_MENU_ID
    rig.send(menu)
    rig.probe.wait_for(
        lambda: "markers back to the robot's pose (menu of right_hand)" in rig.launched.output, 30, "menu"
    )
    time.sleep(0.3)
    deadline = time.monotonic() + 30
    while np.allclose(xyz(rig.markers()[0]["right_hand"].pose), (0.45, -0.3, 0.2)) and time.monotonic() < deadline:
        rig.step(1)
        time.sleep(0.1)
    assert np.linalg.norm(xyz(rig.markers()[0]["right_hand"].pose) - rig.palms()["right_hand"]) < 0.01


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"frame": "odom"}, "frame='odom': valid values are base_link, torso"),
        ({"targets": ["left_hand", "nose"]}, r"targets=\['left_hand', 'nose'\]: valid values are"),
        ({"frame": "torso"}, "torso target in its own frame"),
        ({"max_rate_hz": 500.0}, "max_rate_hz=500.0 outside 1..100"),
        ({"server_namespace": "tele op"}, "server_namespace 'tele op' is not a ROS name"),
        ({"server_backend": "rviz"}, "server_backend='rviz': valid values are auto, interactive_markers, forma"),
    ],
)
def test_bad_parameters_are_refused_at_start(parameters, reason, domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        with pytest.raises(TeleopError, match=reason):
            TeleopMarkersNode(
                context=context, parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()]
            )
    finally:
        rclpy.shutdown(context=context)


def test_insisting_on_the_library_where_it_is_missing_is_refused(domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    overrides = [Parameter("server_backend", value="interactive_markers")]
    try:
        if LIBRARY:
            node = TeleopMarkersNode(context=context, parameter_overrides=overrides)
            assert node.backend == "interactive_markers"
            node.destroy_node()
        else:
            with pytest.raises(TeleopError, match="the library is not importable"):
                TeleopMarkersNode(context=context, parameter_overrides=overrides)
    finally:
        rclpy.shutdown(context=context)


def test_parameters_are_declared_with_descriptions(domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        node = TeleopMarkersNode(context=context)
        try:
            names = ("frame", "targets", "max_rate_hz", "quaternion_tolerance", "gaze_distance_m")
            for name in (*names, "server_namespace", "server_backend"):
                assert node.describe_parameter(name).description, f"{name} lacks a description"
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
