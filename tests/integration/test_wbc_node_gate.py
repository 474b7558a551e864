"""The wbc node's gate, in process and deterministic: the test feeds the node's own handlers the
messages the hardware and the supervisor would send (real rclpy node, real controller; no DDS
timing involved) and counts the commands the node publishes. Nothing is commanded without
safety/state ACTIVE; ACTIVE activates from the measured pose; with separate sensor topics a lagging
IMU pauses the ticks and they resume without a restart, and a lag past 0.1 s disengages; a
non-finite sensor value never reaches the controller (either input); leaving ACTIVE stops at once;
a supervisor silent past safety_timeout_s stops it until the supervisor reports another mode."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest
import rclpy
from geometry_msgs.msg import WrenchStamped
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String

from forma_common.messages import to_time_msg
from forma_common.state_cdr import JointStateReader
from forma_control.wbc.node import WbcNode
from forma_description import RobotModel, expand_description
from forma_description.poses import named_pose
from forma_interfaces.msg import RobotState, SafetyState

pytestmark = pytest.mark.integration
PERIOD_S = 0.002


class Hardware:
    """The hardware's messages for the robot standing still, slightly crouched."""

    def __init__(self, robot: RobotModel) -> None:
        self.robot = robot
        self.pose = named_pose("stand", robot)
        for side in ("left", "right"):  # crouched 0.15 rad at the knees: not the nominal pose
            self.pose[robot.joint_names.index(f"{side}_knee")] += 0.15
            self.pose[robot.joint_names.index(f"{side}_hip_pitch")] -= 0.075
            self.pose[robot.joint_names.index(f"{side}_ankle_pitch")] -= 0.075
        self.t = 1.0

    def joint_states(self) -> JointState:
        msg = JointState(name=list(self.robot.joint_names), position=list(self.pose))
        msg.velocity = [0.0] * len(self.pose)
        msg.effort = [0.0] * len(self.pose)
        msg.header.stamp = to_time_msg(self.t)
        return msg

    def imu(self, lag_s: float = 0.0, w: float = 1.0) -> Imu:
        msg = Imu()
        msg.header.stamp = to_time_msg(self.t - lag_s)
        msg.orientation.w = w
        return msg

    def wrench(self) -> WrenchStamped:
        msg = WrenchStamped()
        msg.header.stamp = to_time_msg(self.t)
        msg.wrench.force.z = 320.0
        return msg

    def robot_state(self, w: float = 1.0) -> RobotState:
        """One control period in one message (hardware/robot_state)."""
        msg = RobotState(name=list(self.robot.joint_names), position=list(self.pose))
        msg.velocity = [0.0] * len(self.pose)
        msg.effort = [0.0] * len(self.pose)
        msg.header.stamp = to_time_msg(self.t)
        msg.orientation.w = w
        msg.left_foot.force.z = msg.right_foot.force.z = 320.0
        return msg


def make_node(state_input: str, domain_id: int, rate_hz: float = 500.0):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    overrides = [
        Parameter("require_safety_state", value=True),
        Parameter("sensor_timeout_s", value=0.05),
        Parameter("state_input", value=state_input),
        Parameter("rate_hz", value=rate_hz),
    ]
    return WbcNode(context=context, parameter_overrides=overrides), context


def describe(node: WbcNode, urdf: str) -> list[bytes]:
    """Hand the node its robot description; returns the list its commands are sent into (the
    bytes of each hardware/joint_commands, as the hardware reads them)."""
    node._on_description(String(data=urdf))
    sent: list[bytes] = []
    node.pub_cmd.publish = sent.append
    node.sent = sent
    return sent


def sent_position(node: WbcNode) -> np.ndarray:
    return JointStateReader().read(node.sent[-1]).position


@pytest.fixture
def node(domain_id):
    """The wbc node reading joint_states, imu/data and the wrenches as separate topics."""
    n, context = make_node("topics", domain_id)
    yield n
    n.destroy_node()
    rclpy.shutdown(context=context)


@pytest.fixture
def bundled_node(domain_id):
    """The wbc node reading hardware/robot_state (its default)."""
    n, context = make_node("robot_state", domain_id)
    yield n
    n.destroy_node()
    rclpy.shutdown(context=context)


def period(node: WbcNode, hw: Hardware, imu_lag_s: float = 0.0, imu_w: float = 1.0) -> None:
    """One control period: the sensors, then joint_states (which ticks), as the control thread
    takes them."""
    hw.t += PERIOD_S
    node.imu = hw.imu(imu_lag_s, imu_w)
    node.wrenches = {"left": hw.wrench(), "right": hw.wrench()}
    node._on_state(hw.joint_states())


def safety(node: WbcNode, mode: int, name: str, reason: str = "", t: float = 0.0) -> None:
    """The supervisor's safety/state, stamped t (the robot time of the hardware's messages: the
    supervisor stamps with the joint_states it has seen)."""
    msg = SafetyState(mode=mode, mode_name=name, reason=reason)
    msg.header.stamp = to_time_msg(t)
    node._on_safety(msg)


def test_the_gate_pause_and_stop(node):
    urdf = expand_description()
    hw = Hardware(RobotModel.from_urdf(urdf))
    describe(node, urdf)
    for _ in range(10):
        period(node, hw)
    assert node.ticks == 0 and "no safety/state yet" in node.inactive_reason
    safety(node, SafetyState.DAMPING, "DAMPING", "start", t=hw.t)
    period(node, hw)
    assert node.ticks == 0 and node.inactive_reason == "safety/state is DAMPING: start"

    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)
    period(node, hw)
    # activated from the measured pose: the first command is where the robot is (no lunge)
    body = [hw.robot.joint_names.index(n) for n in node.body_names]
    assert np.max(np.abs(sent_position(node) - hw.pose[body])) < 0.01
    for _ in range(19):
        period(node, hw)
    assert node.ticks == 20 and node.active, "one command per joint_states while ACTIVE"

    # an IMU 60 ms behind joint_states (limit 50 ms): ticks pause, then resume without a restart
    reference = node.controller.q_ref.copy()
    for _ in range(10):
        period(node, hw, imu_lag_s=0.06)
    assert node.ticks == 20 and node.active and "imu/data is 0.060 s older" in node.paused_reason
    np.testing.assert_array_equal(node.controller.q_ref, reference)  # nothing moved meanwhile
    period(node, hw)
    assert node.ticks == 21 and node.paused_reason == "" and node.active

    # a lag longer than 0.1 s of robot time disengages; fresh sensors start afresh
    for _ in range(60):
        period(node, hw, imu_lag_s=0.06)
    assert not node.active and "imu/data" in node.inactive_reason
    period(node, hw)
    assert node.active and node.ticks == 22

    # non-finite sensor values never reach the controller
    ticks = node.ticks
    period(node, hw, imu_w=math.nan)
    assert node.ticks == ticks and "non-finite" in node.paused_reason

    # leaving ACTIVE stops at once
    period(node, hw)
    ticks = node.ticks
    safety(node, SafetyState.HOLD, "HOLD", "command timeout", t=hw.t)
    for _ in range(5):
        period(node, hw)
    assert node.ticks == ticks and not node.active
    assert node.inactive_reason == "safety/state is HOLD: command timeout"


def test_robot_state_ticks_once_per_period_and_never_on_a_non_finite_imu(bundled_node):
    node = bundled_node
    urdf = expand_description()
    hw = Hardware(RobotModel.from_urdf(urdf))
    describe(node, urdf)
    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)
    for _ in range(10):
        hw.t += PERIOD_S
        node._on_state(hw.robot_state())
    assert node.ticks == 10 and node.active
    body = [hw.robot.joint_names.index(n) for n in node.body_names]
    assert np.max(np.abs(sent_position(node) - hw.pose[body])) < 0.01
    hw.t += PERIOD_S
    node._on_state(hw.robot_state(w=math.nan))  # what the hardware sends when its IMU did not answer
    assert node.ticks == 10 and "non-finite IMU orientation" in node.paused_reason
    hw.t += PERIOD_S
    node._on_state(hw.robot_state())
    assert node.ticks == 11 and node.paused_reason == ""


def test_a_failing_tick_stops_the_commands_until_the_supervisor_restarts(node):
    """Fault injection: a NaN hand target inside the controller (as a bug would put there) makes
    the real QP refuse its data; the node sends nothing more, says why, and stays stopped while
    safety/state remains ACTIVE; the supervisor's next ACTIVE starts it afresh."""
    urdf = expand_description()
    hw = Hardware(RobotModel.from_urdf(urdf))
    describe(node, urdf)
    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)
    for _ in range(5):
        period(node, hw)
    assert node.ticks == 5
    node.controller.targets.hands["right"] = pin.SE3(np.eye(3), np.array([math.nan, 0.0, 1.0]))
    for _ in range(5):
        period(node, hw)
    assert node.ticks == 5 and not node.active
    assert node.failure.startswith("controller failed: QPFailed: non-finite task data")
    assert "until safety/state leaves ACTIVE" in node.inactive_reason
    safety(node, SafetyState.HOLD, "HOLD", "command timeout on body", t=hw.t)
    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)
    period(node, hw)
    assert node.ticks == 6 and node.active and node.failure == ""


def test_a_silent_supervisor_stops_the_commands_until_it_reports_another_mode(node):
    """Fault injection: the supervisor killed or stalled while ACTIVE (its safety/state, sent every
    0.1 s, stops; the last one latched says ACTIVE). Past safety_timeout_s (0.5 s) of robot time
    the node stops commanding (nobody watches for a fall; the hardware holds on its timeout) and
    stays stopped on a late ACTIVE; a respawned supervisor's DAMPING, then its ACTIVE after the
    ramp, start it afresh."""
    urdf = expand_description()
    hw = Hardware(RobotModel.from_urdf(urdf))
    describe(node, urdf)
    period(node, hw)
    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)
    for k in range(240):  # 0.48 s: the supervisor's message every 0.1 s of robot time
        period(node, hw)
        if k % 50 == 49:
            safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)
    assert node.active and node.ticks == 240
    for _ in range(300):  # 0.6 s without safety/state
        period(node, hw)
    assert not node.active and node.failure.startswith("safety/state silent for 0.5")
    assert 449 <= node.ticks <= 451, "ticks until 0.5 s after the last safety/state (at tick 200), none after"
    ticks = node.ticks
    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)  # a stalled supervisor's late ACTIVE: still stopped
    period(node, hw)
    assert node.ticks == ticks and not node.active
    safety(node, SafetyState.DAMPING, "DAMPING", "start", t=hw.t)  # the respawned supervisor
    period(node, hw)
    assert node.failure == "" and node.inactive_reason == "safety/state is DAMPING: start"
    safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)  # after its start ramp
    period(node, hw)
    assert node.active and node.ticks == ticks + 1


def test_a_slower_controller_decimates_a_faster_state_stream(domain_id):
    """rate_hz 250 on the hardware's 500 Hz robot_state: every other sample ticks, each tick
    integrates the 4 ms that passed, and a stamp going back (the sim reset) ticks at once."""
    node, context = make_node("robot_state", domain_id, rate_hz=250.0)
    try:
        urdf = expand_description()
        hw = Hardware(RobotModel.from_urdf(urdf))
        describe(node, urdf)
        safety(node, SafetyState.ACTIVE, "ACTIVE", t=hw.t)

        def sample() -> None:  # what the control loop does with each sample it takes
            msg = node.state_reader.read(serialize_message(hw.robot_state()))
            if not node._too_soon(msg):
                node._on_state(msg)

        for _ in range(20):
            hw.t += PERIOD_S
            sample()
        assert node.ticks == 10 and len(node.sent) == 10 and node.controller.dt == pytest.approx(0.004)
        hw.t -= 1.0  # reset: the clock goes back
        sample()
        assert node.ticks == 11
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
