"""The hands node over real DDS with the sim node running one hand on the positioning stand
(world hand_stand, rig right_hand): a spherical grasp of the ball ends in success and holding; a
goal with a NaN force, one of an unknown grasp type and one for the other hand end at once with
INVALID_GOAL and the reason; after opening and moving the stand (sim/stand_target) where there is
nothing, the grasp ends in failure, never success; an e-stop ends a running grasp with
HARDWARE_NOT_ACTIVE and stops the hand's commands until a reset. Holding still, the hand's command
goes out at the keepalive rate, not every tick.

The sim runs in sim time (slower than real time on this machine is fine); the hands node uses sim
time. Waits are for conditions with generous wall-clock bounds; what is asserted is the action's
result, not timing.
"""

from __future__ import annotations

import math

import pytest
from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionClient
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from forma_hands.lockstep import TOP_DOWN_BALL
from forma_interfaces.action import Grasp
from forma_interfaces.msg import FingertipTouch
from forma_interfaces.srv import EStop
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe

pytestmark = pytest.mark.integration
BALL_M = (0.5, 0.2, 0.7835)  # hand_stand.xml


def stand_over(obj_xyz, lowered: bool) -> list[float]:
    ox, oy, oz = TOP_DOWN_BALL.object_from_stand_m
    return [obj_xyz[0] - ox, obj_xyz[1] - oy, obj_xyz[2] - oz + (0.0 if lowered else 0.06), 0.0]


def deployment(tmp, stand_pose) -> str:
    sim = node(
        "sim",
        world="hand_stand",
        rig="right_hand",
        stand_pose=stand_pose,
        mode="simtime",
        real_time_factor=0.5,
        **{"camera.rate_hz": 0.0},
    )
    hands = node("hands", sides=["right"], use_sim_time=True)
    return write_deployment(tmp, "hands_rig", [process("sim", sim), process("hands", hands)], use_sim_time=None)


class Rig:
    def __init__(self, probe: RosProbe, target_xyz, log_dir):
        self.probe, self.target_xyz, self.log_dir = probe, target_xyz, log_dir
        self.clock = probe.collect(Clock, "/clock", keep=1)  # to tell a stalled sim from a stuck grasp
        self.phases: list[str] = []  # the running goal's feedback phases, in order
        self.stand = probe.node.create_publisher(PoseStamped, "sim/stand_target", 10)
        self.client = ActionClient(probe.node, Grasp, "hands/right/grasp")
        self.touch = probe.collect(FingertipTouch, "hands/right/touch", keep=2)
        probe.wait_for(lambda: self.client.wait_for_server(timeout_sec=0.5), 60, "the hands/right/grasp action")
        probe.wait_for(lambda: len(self.touch) > 0, 60, "touch from the sim")
        self.commands = probe.collect(JointState, "hardware/joint_commands", depth=50)
        # leave the start-up hold (the supervisor's job); the hands node commands once it is ACTIVE
        probe.wait_for(lambda: self._reset(), 60, "hardware/reset to succeed")
        probe.wait_for(lambda: len(self.commands) > 0, 60, "the hands node to command the hand")

    def _reset(self) -> bool:
        return bool(self.probe.call(Trigger, "hardware/reset", Trigger.Request()).success)

    def grasp(self, grasp_type="spherical", force=12.0, hand="right", timeout_s=0.0, wait_s=240.0) -> Grasp.Result:
        sim_start_s = self.sim_time_s()
        result = self.grasp_async(grasp_type, force, hand, timeout_s)
        try:
            self.probe.wait_for(lambda: result.done(), wait_s, "the grasp result")
        except AssertionError as exc:  # say where it stopped: sim time, the goal's phases, the logs
            tails = "".join(f"\n--- {f.name} ---\n" + f.read_text(errors="replace")[-3000:] for f in self.log_files())
            raise AssertionError(
                f"{exc}: sim time {sim_start_s:.2f} -> {self.sim_time_s():.2f} s, feedback phases {self.phases}{tails}"
            ) from None
        return result.result().result

    def sim_time_s(self) -> float:
        last = self.probe.latest("/clock")
        return last.clock.sec + last.clock.nanosec * 1e-9 if last is not None else math.nan

    def log_files(self) -> list:
        return sorted(self.log_dir.glob("*.log"))

    def _on_feedback(self, message) -> None:
        phase = message.feedback.phase
        if not self.phases or self.phases[-1] != phase:
            self.phases.append(phase)

    def grasp_async(self, grasp_type="spherical", force=12.0, hand="right", timeout_s=0.0):
        goal = Grasp.Goal(hand=hand, grasp_type=grasp_type, max_force_n=force, timeout_s=timeout_s)
        self.phases = []
        sent = self.probe.on_executor(self.client.send_goal_async, goal, self._on_feedback)
        self.probe.wait_for(lambda: sent.done(), 30, "the goal to be answered")
        handle = sent.result()
        assert handle.accepted
        return self.probe.on_executor(handle.get_result_async)


@pytest.fixture(scope="module")
def rig_with_ball(tmp_path_factory, module_domain_id):
    tmp = tmp_path_factory.mktemp("hands")
    # the stand starts at the grasp height over the ball; the pre-shape swings the thumb around it
    path = deployment(tmp, stand_over(BALL_M, lowered=True))
    launched = LaunchedDeployment(path, module_domain_id, tmp / "logs")
    with launched, RosProbe(module_domain_id, name="hands_probe") as probe:
        yield Rig(probe, BALL_M, tmp / "logs")
    assert launched.exit_code == 0
    assert launched.leftovers() == []


def test_a_hand_holding_still_sends_its_command_at_the_keepalive_rate(rig_with_ball):
    """Idle, the same command goes out every keepalive_s (0.02 s of robot time), well inside the
    hardware's 0.25 s hand watchdog and its 0.1 s staleness limit, instead of every 10 ms tick."""
    probe = rig_with_ball.probe
    start = rig_with_ball.sim_time_s()
    probe.wait_for(lambda: rig_with_ball.sim_time_s() > start + 1.5, 120, "1.5 s of robot time")
    with probe.lock:
        stamps = sorted(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in rig_with_ball.commands)
    window = [t for t in stamps if start + 0.25 <= t <= start + 1.25]
    assert 30 <= len(window) <= 60, f"{len(window)} commands in 1 s of robot time (ticks 100, keepalive 0.02 s)"
    assert max(b - a for a, b in zip(window[:-1], window[1:], strict=True)) < 0.1  # stale after 0.1 s


@pytest.mark.parametrize(
    "goal, reason",
    [
        ({"force": math.nan}, "max_force_n nan"),
        ({"force": -3.0}, "max_force_n -3.0"),
        ({"grasp_type": "claw"}, "unknown grasp type 'claw'"),
        ({"hand": "left"}, "goal for hand 'left'"),
    ],
)
def test_bad_goals_end_at_once_with_invalid_goal_and_the_reason(rig_with_ball, goal, reason):
    result = rig_with_ball.grasp(**goal, wait_s=30)
    assert not result.success and not result.holding
    assert result.error_code == Grasp.Result.INVALID_GOAL
    assert reason in result.message


def test_spherical_grasp_of_the_ball_succeeds_and_reports_holding(rig_with_ball):
    result = rig_with_ball.grasp("spherical", 12.0)
    assert result.success and result.holding, result.message
    assert result.error_code == Grasp.Result.OK
    touch = rig_with_ball.touch[-1]
    assert sum(f > 0.3 for f in touch.force_n) >= 2  # the fingertips really press on the ball


def test_grasp_with_no_object_ends_in_failure(rig_with_ball):
    rig = rig_with_ball
    opened = rig.grasp("open", 5.0)
    assert opened.success and not opened.holding, opened.message
    # the stand past the table's edge (y < -0.4 m): nothing under the hand. (Over the bare table the
    # pre-shape presses the thumb and fingertips on the table top, which this grasp cannot tell from
    # an object yet: see the forma_hands README, "Known limits".)
    x, y, z, _ = stand_over((BALL_M[0], -0.6, BALL_M[2]), lowered=True)
    truth = rig.probe.collect(PoseStamped, "sim/base_pose_ground_truth", keep=1)
    target = PoseStamped()
    target.pose.position.x, target.pose.position.y, target.pose.position.z = x, y, z
    target.pose.orientation.w = 1.0

    def arrived() -> bool:
        rig.stand.publish(target)
        return bool(truth) and abs(truth[-1].pose.position.y - y) < 0.01

    rig.probe.wait_for(arrived, 120, "the stand to move past the table's edge")
    result = rig.grasp("spherical", 12.0)
    assert not result.success and not result.holding
    # fingers closing fully with no contact (NO_CONTACT), or after brushing only the table (OBJECT_LOST)
    assert result.error_code in (Grasp.Result.NO_CONTACT, Grasp.Result.OBJECT_LOST, Grasp.Result.TIMEOUT)
    assert "closed fully" in result.message or "timeout" in result.message


def test_an_estop_ends_the_grasp_stops_the_hand_and_a_reset_brings_it_back(rig_with_ball):
    """The hardware decides: latched in DAMP the hands node stops sending, ends the running grasp
    with HARDWARE_NOT_ACTIVE and the hardware's reason, refuses new goals; after the reset it holds
    the measured pose again."""
    rig = rig_with_ball
    running = rig.grasp_async("spherical", 12.0, timeout_s=30.0)
    rig.probe.wait_for(lambda: rig.commands and not running.done(), 30, "the grasp running")
    assert rig.probe.call(EStop, "hardware/estop", EStop.Request(engage=True, reason="test")).success
    rig.probe.wait_for(lambda: running.done(), 60, "the grasp to end")
    result = running.result().result
    assert not result.success and result.error_code == Grasp.Result.HARDWARE_NOT_ACTIVE
    assert "right_hand is latched in DAMP" in result.message, result.message
    with rig.probe.lock:
        rig.commands.clear()
    refused = rig.grasp("spherical", 12.0, wait_s=30)
    assert refused.error_code == Grasp.Result.HARDWARE_NOT_ACTIVE and not refused.success
    assert not rig.commands, "the hands node kept commanding a latched hand"
    assert rig.probe.call(EStop, "hardware/estop", EStop.Request(engage=False, reason="test")).success
    rig.probe.wait_for(lambda: rig._reset(), 60, "hardware/reset to succeed")
    rig.probe.wait_for(lambda: len(rig.commands) > 0, 30, "the hands node to command the hand again")


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"sides": ["middle"]}, "parameter sides"),
        ({"sides": ["left", "left"]}, "parameter sides"),
        ({"rate_hz": 5.0}, "parameter rate_hz=5.0"),
        ({"touch_contact_n": -1.0}, "parameter touch_contact_n=-1.0 outside 0.01..50 N"),
        ({"feedback_rate_hz": 0.0}, "parameter feedback_rate_hz"),
    ],
)
def test_bad_parameters_stop_the_node_at_start_naming_the_parameter(parameters, reason, domain_id):
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from forma_hands.errors import HandsError
    from forma_hands.node import HandsNode

    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    try:
        with pytest.raises(HandsError, match=reason.replace("[", r"\[")):
            HandsNode(context=ctx, parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()])
    finally:
        rclpy.shutdown(context=ctx)
