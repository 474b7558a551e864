"""planning/reach over DDS on the simulated robot (MuJoCo in sim time, the safety supervisor, whole-
body control and the planner node as deployed): a box that perception reports (published by this
test) stands on the palm's straight line to its target, so the planner plans around it and whole-
body control follows the plan to the target: REACHED, the reason "planned around obstacle"; a task
skill's grasp reach, with the object to grasp beside its target, a box perceived around the hand (held)
and a table top below (perception/support_plane), goes to wbc/reach unchanged ("straight reach"), and
so does one with nothing perceived; canceling one cancels the WBC's goal; a NaN target is REJECTED
with the reason. Issue 24, deliverable 3."""

from __future__ import annotations

import functools
import math

import numpy as np
import pinocchio as pin
import pytest
from geometry_msgs.msg import Point32, PolygonStamped, PoseStamped
from sensor_msgs.msg import JointState

from forma_description.frames import RobotFrames
from forma_description.xacro_expand import expand_description
from forma_interfaces.action import Reach
from forma_interfaces.msg import DetectedObject, DetectedObjectArray, SafetyState
from forma_moveit_config import semantic
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.system
WAIT_S = 180.0  # wall-clock bound on any one wait: the machine is slow and shared
BOX_SIZE_M = 0.10
GRASPED_SIZE_M = 0.06
SETTLE_S = 2.0  # [s sim time] the body settles on whole-body control after the stand-up (the arms sway)


def _deployment(tmp) -> str:
    sim = node(
        "sim", world="empty", initial_pose="stand_balanced", mode="simtime", real_time_factor=0.5,
        **{"camera.rate_hz": 0.0},
    )  # fmt: skip
    safety = node("safety_supervisor", auto_stand=True, pose="stand_balanced", commanders=["wbc"])
    wbc = node("wbc", pose="stand_balanced")
    planner = node("planner", planning_timeout_s=10.0)  # wall time: the machine is shared
    processes = [
        process("sim", sim),
        process("safety", safety),
        process("control", wbc),
        process("tasks", planner),  # composed into the tasks process in config/deployments/sim.yaml
    ]
    return write_deployment(tmp, "planner_dds", processes)


class Arm:
    """The robot's frames from the joint_states this test receives."""

    def __init__(self, probe: RosProbe, joints: list) -> None:
        self.probe, self.joints = probe, joints
        self.frames = RobotFrames(expand_description())

    def now(self) -> tuple[float, np.ndarray, np.ndarray]:
        """(the robot's time [s], its joint names, positions) from the newest joint_states."""
        with self.probe.lock:
            msg = self.joints[-1]
        return stamp_s(msg), list(msg.name), list(msg.position)

    def palm(self, override: dict[str, float] | None = None) -> pin.SE3:
        """The right palm in base_link now, or with some joints set to `override` [rad]."""
        _, names, positions = self.now()
        self.frames.update(names, positions)
        if override:
            self.frames.update(list(override), list(override.values()))
        return pin.SE3(self.frames.transform("base_link", "right_hand"))


def _target(pose: pin.SE3, frame: str = "base_link") -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = frame  # stamp 0: "now"
    p, q = pose.translation, pin.Quaternion(pose.rotation).coeffs()
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, p)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = map(float, q)
    return msg


def _reach(probe: RosProbe, client, target: PoseStamped, feedback: list | None = None) -> Reach.Result:
    goal = Reach.Goal(hand="right", target=target, timeout_s=8.0)
    heard = feedback if feedback is not None else []
    sent = probe.on_executor(
        functools.partial(client.send_goal_async, goal, feedback_callback=lambda f: heard.append(f.feedback))
    )
    probe.wait_for(sent.done, 30, "planning/reach accepting the goal")
    handle = sent.result()
    assert handle.accepted
    result = probe.on_executor(handle.get_result_async)
    probe.wait_for(result.done, WAIT_S, "the result of planning/reach")
    return result.result().result


def _objects(now_s: float, *boxes: tuple) -> DetectedObjectArray:
    """Boxes (name, centre[, size]) in base_link as perception would report them."""
    msg = DetectedObjectArray()
    msg.header.frame_id = "base_link"
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(now_s), int((now_s % 1.0) * 1e9)
    for name, center, *size in boxes:
        obj = DetectedObject(id=name, label="box", score=1.0)
        obj.pose.position.x, obj.pose.position.y, obj.pose.position.z = map(float, center)
        obj.pose.orientation.w = 1.0
        obj.size_m.x = obj.size_m.y = obj.size_m.z = float(size[0]) if size else BOX_SIZE_M
        msg.objects.append(obj)
    return msg


def _outline(now_s: float, center: np.ndarray, side_m: float) -> PolygonStamped:
    """perception/support_plane: a level square table top of side_m around center (none: side 0)."""
    msg = PolygonStamped()
    msg.header.frame_id = "base_link"
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(now_s), int((now_s % 1.0) * 1e9)
    if side_m > 0.0:
        for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            x, y, z = center + np.array([dx, dy, 0.0]) * side_m / 2.0
            msg.polygon.points.append(Point32(x=float(x), y=float(y), z=float(z)))
    return msg


def test_planning_reach_goes_around_a_perceived_box_straight_when_clear_and_refuses_nan(tmp_path, domain_id):
    from rclpy.action import ActionClient

    with (
        LaunchedDeployment(_deployment(tmp_path), domain_id, tmp_path / "logs") as deployment,
        RosProbe(domain_id) as probe,
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        joints = probe.collect(JointState, "joint_states", keep=1)
        client = ActionClient(probe.node, Reach, "planning/reach")
        probe.wait_for(lambda: safety and safety[-1].mode == SafetyState.ACTIVE, WAIT_S, "the robot standing (ACTIVE)")
        probe.wait_for(lambda: joints, 30, "joint_states")
        active_s = stamp_s(safety[-1])
        arm = Arm(probe, joints)
        probe.wait_for(lambda: arm.now()[0] > active_s + SETTLE_S, WAIT_S, f"{SETTLE_S} s of sim time on the WBC")
        probe.wait_for(lambda: client.wait_for_server(timeout_sec=0.5), 60, "planning/reach served")
        objects = probe.matched_publisher(DetectedObjectArray, "perception/objects")
        plane = probe.matched_publisher(PolygonStamped, "perception/support_plane")

        # NaN: refused at once, with the reason, nothing moves
        nan_target = _target(arm.palm())
        nan_target.pose.position.x = math.nan
        refused = _reach(probe, client, nan_target)
        assert refused.outcome == Reach.Result.REJECTED and "non-finite" in refused.reason, refused.reason

        # the palm of the SRDF's `ready` arm (forearm forward, 50 cm from the hanging palm), a box
        # perceived halfway along the straight line: planned around it
        ready = {f"right_{j}": v for j, v in semantic.READY_ARM.items()}
        hanging, forward = arm.palm(), arm.palm(ready)
        middle = (hanging.translation + forward.translation) / 2.0
        probe.publish_delivered(objects, _objects(arm.now()[0], ("obstacle", middle)))
        feedback: list = []
        planned = _reach(probe, client, _target(forward), feedback)
        assert planned.outcome == Reach.Result.REACHED, planned.reason
        assert planned.reason.startswith("planned around obstacle"), planned.reason
        assert planned.distance_m < 0.03, planned.distance_m
        assert feedback and all(math.isfinite(f.position_error_m) for f in feedback)
        palm_error = float(np.linalg.norm(arm.palm().translation - forward.translation))
        assert palm_error < 0.03, f"palm {palm_error * 100:.1f} cm from the target"

        # a task skill's grasp: the object to grasp perceived beside the palm's target (1.5 cm out of
        # the palm: grown by the planner's margins it would touch the hand there), a box perceived
        # around the palm where it is now (what the hand holds, or the hand itself seen; 2 cm from the
        # target), a table top 15 cm below the target: the goal object and the held box are left out,
        # the table is clear of the line, and the goal goes to wbc/reach as it came
        now_s = arm.now()[0]
        lower = pin.SE3(forward.rotation, forward.translation + np.array([0.0, 0.0, -0.05]))
        out_of_palm = lower.rotation @ np.array([0.0, 0.0, 0.015 + GRASPED_SIZE_M / 2.0])
        grasped = ("grasped", lower.translation + out_of_palm, GRASPED_SIZE_M)
        probe.publish_delivered(objects, _objects(now_s, grasped, ("held", arm.palm().translation, GRASPED_SIZE_M)))
        probe.publish_delivered(plane, _outline(now_s, lower.translation + np.array([0.0, 0.0, -0.15]), 0.4))
        straight = _reach(probe, client, _target(lower))
        assert straight.outcome == Reach.Result.REACHED, straight.reason
        assert straight.reason.startswith("straight reach"), straight.reason
        assert "grasped the hand's goal" in straight.reason and "held at the robot" in straight.reason, straight.reason
        assert "the support plane at" in straight.reason, straight.reason

        # nothing perceived any more (no objects, an empty outline: no table in view)
        probe.publish_delivered(objects, _objects(arm.now()[0]))
        probe.publish_delivered(plane, _outline(arm.now()[0], np.zeros(3), 0.0))

        # cancel once wbc/reach runs it (its feedback relayed): the WBC's goal is canceled with it
        slow = Reach.Goal(hand="right", target=_target(hanging), timeout_s=20.0, max_speed_m_s=0.05)
        heard: list = []
        sent = probe.on_executor(
            functools.partial(client.send_goal_async, slow, feedback_callback=lambda f: heard.append(f.feedback))
        )
        probe.wait_for(sent.done, 30, "planning/reach accepting the goal")
        probe.wait_for(lambda: heard, WAIT_S, "feedback relayed from wbc/reach")
        probe.on_executor(sent.result().cancel_goal_async)
        result = probe.on_executor(sent.result().get_result_async)
        probe.wait_for(result.done, WAIT_S, "the canceled goal's result")
        canceled = result.result().result
        assert canceled.outcome == Reach.Result.CANCELED, canceled.reason
        assert canceled.reason.startswith("straight reach") and "canceled by the client" in canceled.reason
    assert deployment.exit_code == 0, deployment.output[-3000:]
    assert deployment.leftovers() == []
