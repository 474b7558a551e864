"""The hardware contract over real DDS, with the sim node in lockstep so that every step is
counted in control periods: malformed commands of each kind are refused, counted and move
nothing; a command timeout shows as HOLD (efforts still carry the robot) and then DAMP (efforts
are pure damping, the robot sinks); the e-stop damps at once and blocks reset until released."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from forma_description import RobotModel, expand_description
from forma_description.poses import named_pose
from forma_hardware.config import default_config_path
from forma_interfaces.msg import HardwareState
from forma_interfaces.srv import EStop, StepSimulation
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe

pytestmark = pytest.mark.integration
HOLD_TO_DAMP_S = 1.0
PERIOD_S = 0.002


@pytest.fixture(scope="module")
def robot():
    return RobotModel.from_urdf(expand_description())


@pytest.fixture(scope="module")
def lockstep(tmp_path_factory, robot, module_domain_id):
    """The sim node alone, in lockstep, with a short hold-to-damp time."""
    tmp = tmp_path_factory.mktemp("contract")
    hardware = yaml.safe_load(default_config_path().read_text())
    for watchdog in hardware["watchdogs"].values():
        watchdog["hold_to_damp_s"] = HOLD_TO_DAMP_S
    (tmp / "hardware.yaml").write_text(yaml.safe_dump(hardware))
    sim = node(
        "sim",
        world="empty",
        mode="lockstep",
        hardware_config=str(tmp / "hardware.yaml"),
        **{"camera.rate_hz": 0.0},
    )
    path = write_deployment(tmp, "lockstep", [process("sim", sim)], use_sim_time=None)
    with (
        LaunchedDeployment(path, module_domain_id, tmp / "logs") as launched,
        RosProbe(module_domain_id, name="c_probe") as probe,
    ):
        yield Driver(probe, robot, launched)
    assert launched.exit_code == 0
    assert launched.leftovers() == []


class Driver:
    """Commands and steps the lockstep sim: the test is the only commander."""

    def __init__(self, probe: RosProbe, robot: RobotModel, launched):
        self.probe, self.robot, self.launched = probe, robot, launched
        self.pub = probe.node.create_publisher(JointState, "hardware/joint_commands", 10)
        self.states = probe.collect(HardwareState, "hardware/state", keep=3)
        self.joints = probe.collect(JointState, "joint_states", keep=3)
        self.truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", keep=1)
        self.now = self.step(1)
        probe.wait_for(lambda: self.pub.get_subscription_count() > 0, 30, "the sim to subscribe to commands")

    def step(self, periods: int) -> float:
        reply = self.probe.call(StepSimulation, "sim/step", StepSimulation.Request(periods=periods), timeout_s=60)
        assert reply.success, reply.message
        self.now = reply.sim_time_s
        # the last state published during the step has arrived when joint_states shows this time
        self.probe.wait_for(
            lambda: self.joints and abs(self._stamp(self.joints[-1]) - self.now) < 1e-6, 30, "joint_states of the step"
        )
        return self.now

    @staticmethod
    def _stamp(msg) -> float:
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    def send(self, names, position=(), velocity=(), effort=(), stamp_s: float | None = None) -> None:
        msg = JointState(name=list(names), position=list(position), velocity=list(velocity), effort=list(effort))
        t = self.now if stamp_s is None else stamp_s
        msg.header.stamp.sec = int(math.floor(t))
        msg.header.stamp.nanosec = int(round((t - math.floor(t)) * 1e9)) % 1_000_000_000
        self.pub.publish(msg)

    def stand_command(self) -> None:
        self.send(self.robot.joint_names, position=named_pose("stand", self.robot))

    def delivered(self) -> None:
        """Commands are applied by the sim's executor before the next step: give DDS a moment.
        (An ordering wait, not a measurement: nothing asserted depends on wall time.)"""
        import time

        from rclpy.duration import Duration

        assert self.pub.wait_for_all_acked(Duration(seconds=10)), "the sim did not acknowledge the commands"
        time.sleep(0.15)

    def hardware_state(self) -> HardwareState:
        self.step(10)  # hardware/state is published every 10 periods
        return self.states[-1]

    def group(self, name: str) -> int:
        s = self.hardware_state()
        return s.stop_states[list(s.groups).index(name)]

    def joint(self, name: str) -> tuple[float, float, float]:
        m = self.joints[-1]
        i = list(m.name).index(name)
        return m.position[i], m.velocity[i], m.effort[i]

    def stand_for(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.05)):
            self.stand_command()
            self.delivered()
            self.step(25)


MALFORMED = {
    "NaN position": lambda d, n: d.send(["left_knee", "right_knee"], position=[1.5, math.nan]),
    "inf effort": lambda d, n: d.send(["left_knee"], position=[1.5], effort=[math.inf]),
    "unknown joint": lambda d, n: d.send(["left_knee", "left_kneecap"], position=[1.5, 0.0]),
    "mismatched arrays": lambda d, n: d.send(["left_knee", "right_knee"], position=[1.5]),
    "repeated name": lambda d, n: d.send(["left_knee", "left_knee"], position=[1.5, 1.5]),
    "stale stamp": lambda d, n: d.send(["left_knee"], position=[1.5], stamp_s=d.now - 1.0),
    "no stamp": lambda d, n: d.send(["left_knee"], position=[1.5], stamp_s=0.0),
    "beyond limit": lambda d, n: d.send(["left_knee"], position=[2.9]),
}


def test_malformed_commands_are_refused_and_move_nothing(lockstep):
    d = lockstep
    reply = d.probe.call(Trigger, "hardware/reset", Trigger.Request())
    assert reply.success, reply.message
    d.stand_for(1.0)
    assert d.group("body") == HardwareState.ACTIVE
    knee0 = d.joint("left_knee")[0]
    rejected0 = d.hardware_state().commands_rejected
    for kind, send in MALFORMED.items():
        d.stand_command()  # keeps the watchdog fed; the malformed command comes after it
        send(d, kind)
        d.delivered()
        d.step(25)  # 0.05 s: with a 1.5 rad knee target the knee would move by far more than 0.02 rad
        assert abs(d.joint("left_knee")[0] - knee0) < 0.02, f"{kind}: the knee moved"
    state = d.hardware_state()
    assert state.commands_rejected - rejected0 == len(MALFORMED)
    assert all(s == HardwareState.ACTIVE for s in state.stop_states)


def test_command_timeout_is_visible_as_hold_then_damp_in_the_efforts(lockstep):
    d = lockstep
    if d.group("body") != HardwareState.ACTIVE:
        assert d.probe.call(Trigger, "hardware/reset", Trigger.Request()).success
    d.stand_for(0.5)
    d.step(60)  # no command for 0.12 s > the body's 0.10 s timeout
    state = d.hardware_state()
    body = list(state.groups).index("body")
    assert state.stop_states[body] == HardwareState.HOLD and "no command" in state.reasons[body]
    z_hold = d.truth[-1].pose.position.z
    _, _, knee_effort = d.joint("left_knee")
    assert abs(knee_effort) > 5.0, "in HOLD the knees still carry the robot"
    d.step(round(0.5 / PERIOD_S))
    assert d.truth[-1].pose.position.z == pytest.approx(z_hold, abs=0.03), "a held robot keeps standing"
    d.step(round(HOLD_TO_DAMP_S / PERIOD_S))
    assert d.group("body") == HardwareState.DAMP
    d.step(40)
    kd = {"left_knee": 12.0, "left_hip_pitch": 10.0, "left_ankle_pitch": 6.0}  # damp_kd of config/hardware.yaml
    for name, gain in kd.items():
        _, qd, effort = d.joint(name)
        assert abs(effort + gain * qd) <= 0.15 * abs(gain * qd) + 1.5, f"{name}: effort {effort} is not damping"
    d.step(round(1.0 / PERIOD_S))
    assert d.truth[-1].pose.position.z < z_hold - 0.3, "a damped robot sinks"


def test_estop_damps_at_once_and_blocks_reset_until_released(lockstep):
    d = lockstep
    assert d.probe.call(EStop, "hardware/estop", EStop.Request(engage=True, reason="test")).success
    d.step(1)
    state = d.hardware_state()
    assert state.estop_engaged and all(s == HardwareState.DAMP for s in state.stop_states)
    refused = d.probe.call(Trigger, "hardware/reset", Trigger.Request())
    assert not refused.success and "e-stop is engaged" in refused.message
    assert d.probe.call(EStop, "hardware/estop", EStop.Request(engage=False, reason="test")).success
    assert all(s == HardwareState.DAMP for s in d.hardware_state().stop_states), "release alone must not activate"
    assert d.probe.call(Trigger, "hardware/reset", Trigger.Request()).success
    assert all(s == HardwareState.ACTIVE for s in d.hardware_state().stop_states)
    assert np.isfinite(d.joint("left_knee")[0])


def test_estop_topic_damps_the_hardware_directly_and_only_engages(lockstep):
    """safety/estop reaches the hardware node itself (no supervisor needed, one hop); `false`
    on the topic releases nothing: release and reset go through the services."""
    from std_msgs.msg import Bool

    d = lockstep
    assert d.probe.call(EStop, "hardware/estop", EStop.Request(engage=False, reason="test")).success
    assert d.probe.call(Trigger, "hardware/reset", Trigger.Request()).success
    d.step(1)
    assert not d.hardware_state().estop_engaged
    pub = d.probe.node.create_publisher(Bool, "safety/estop", 10)
    d.probe.wait_for(lambda: pub.get_subscription_count() > 0, 30, "the sim to subscribe to safety/estop")
    pub.publish(Bool(data=True))
    # the hardware publishes its state at once on engaging, before any simulation step
    d.probe.wait_for(lambda: d.states and d.states[-1].estop_engaged, 10, "the e-stop on hardware/state")
    assert all(s == HardwareState.DAMP for s in d.states[-1].stop_states)
    pub.publish(Bool(data=False))
    d.step(2)
    assert d.hardware_state().estop_engaged, "the topic must not release the e-stop"
    assert d.probe.call(EStop, "hardware/estop", EStop.Request(engage=False, reason="test")).success
