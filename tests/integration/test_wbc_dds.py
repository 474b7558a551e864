"""The whole-body control node over real DDS with the MuJoCo sim node as the hardware: the robot
stands on the WBC (hardware body ACTIVE throughout, pelvis ground truth above 0.8 m), a hand target
on wbc/targets/right_hand 10 cm in front of the palm is reached within 2 cm (palm measured by FK
from joint_states in the test), the wbc/reach action reaches, reports UNREACHABLE with the reason,
REJECTED for bad goals, CANCELED on cancel and on a teleop pre-emption; an arm joint trajectory
(wbc/follow_arm_trajectory) is followed to its end, refused with the reason when malformed, and
stops where it is on cancel; bad targets are refused with the reason on wbc/status and change no
command; bad parameters stop the node at start.

The safety supervisor is not part of this branch: the wbc node runs with require_safety_state
false (it resets the hardware itself once and activates from the measured pose). Every wait is on
a condition or on sim time (message stamps); the wall-clock timeouts only bound a hung test.
"""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest
import rclpy
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectoryPoint

from forma_common.messages import to_time_msg
from forma_control.errors import ControlConfigError
from forma_control.wbc.node import WbcNode
from forma_control.wbc.reach import ARM_JOINTS
from forma_description import RobotModel
from forma_description.limbs import arm_joint_names
from forma_interfaces.action import FollowArmTrajectory, Reach, WalkTo
from forma_interfaces.msg import HardwareState, SafetyState, WbcStatus
from forma_perception.robot_frames import RobotFrames
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.integration
WAIT_S = 180.0  # wall-clock bound on any one wait: the machine is slow and shared
BODY_JOINTS = 38


def deployment_file(tmp, require_safety_state: bool = False, supervisor: bool = False) -> str:
    sim = node(
        "sim",
        world="empty",
        mode="simtime",
        real_time_factor=0.3,  # headroom on a loaded 2-core machine
        **{"camera.rate_hz": 0.0},
    )
    processes = [process("sim", sim), process("control", node("wbc", require_safety_state=require_safety_state))]
    if supervisor:
        safety = node("safety_supervisor", auto_stand=True, recover_holds_per_min=0)
        processes.insert(1, process("safety", safety))
    return write_deployment(tmp, "wbc_dds", processes)


def test_safety_state_decides_when_the_wbc_commands(tmp_path, domain_id):
    """With require_safety_state (the default) the probe plays the safety supervisor: nothing is
    commanded without safety/state or in DAMPING; ACTIVE starts the WBC from the measured pose
    (the robot keeps standing); leaving ACTIVE stops the commands at once (the hardware holds)."""
    with (
        LaunchedDeployment(deployment_file(tmp_path, require_safety_state=True), domain_id, tmp_path / "logs") as run,
        RosProbe(domain_id, name="wbc_safety_probe") as probe,
    ):
        status = probe.collect(WbcStatus, "wbc/status", keep=50)
        commands = probe.collect(JointState, "hardware/joint_commands", keep=1)
        hardware = probe.collect(HardwareState, "hardware/state", keep=5)
        truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", depth=50, keep=1000)
        probe.collect(JointState, "joint_states", keep=1)
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        publisher = probe.node.create_publisher(SafetyState, "safety/state", latched)
        current: list[SafetyState] = []

        def now() -> float:
            js = probe.latest("joint_states")
            return stamp_s(js) if js is not None else 0.0

        def stamped(msg: SafetyState) -> SafetyState:
            if (js := probe.latest("joint_states")) is not None:
                msg.header.stamp = js.header.stamp  # the robot's clock
            return msg

        def safety_publish(msg: SafetyState) -> None:
            """Say a mode, and keep saying it every 0.1 s stamped with the robot's clock, as the
            supervisor does: an ACTIVE older than wbc.safety_timeout_s (0.5 s) stops the WBC."""
            current[:] = [msg]
            publisher.publish(stamped(msg))

        probe.on_executor(probe.node.create_timer, 0.1, lambda: current and publisher.publish(stamped(current[0])))

        def wait_sim(seconds: float) -> None:
            start = now()
            probe.wait_for(lambda: now() >= start + seconds, WAIT_S, f"{seconds} s of sim time")

        def reason() -> str:
            return status[-1].inactive_reason if status else ""

        def body() -> tuple[int, str]:
            m = hardware[-1]
            i = list(m.groups).index("body")
            return m.stop_states[i], m.reasons[i]

        probe.wait_for(lambda: "no safety/state yet" in reason(), WAIT_S, "the wbc waiting for the supervisor")
        safety_publish(SafetyState(mode=SafetyState.DAMPING, mode_name="DAMPING", reason="start"))
        probe.wait_for(lambda: reason() == "safety/state is DAMPING: start", WAIT_S, "DAMPING on wbc/status")
        wait_sim(1.0)
        assert not commands and not status[-1].active, "nothing is commanded before ACTIVE"

        assert probe.call(Trigger, "hardware/reset", Trigger.Request()).success
        safety_publish(SafetyState(mode=SafetyState.ACTIVE, mode_name="ACTIVE"))
        probe.wait_for(lambda: status[-1].active, WAIT_S, "the wbc to activate on ACTIVE")
        t_active = now()
        wait_sim(2.0)
        assert body() == (HardwareState.ACTIVE, ""), body()
        assert min(m.pose.position.z for m in truth if stamp_s(m) >= t_active) > 0.8

        safety_publish(SafetyState(mode=SafetyState.HOLD, mode_name="HOLD", reason="test hold"))
        probe.wait_for(lambda: reason() == "safety/state is HOLD: test hold", WAIT_S, "HOLD on wbc/status")
        # (a command published just before that status may still arrive after it: compare stamps)
        t_hold = stamp_s(status[-1])
        probe.wait_for(lambda: now() >= t_hold + 0.5, WAIT_S, "0.5 s of sim time after the HOLD")
        last_command = stamp_s(commands[-1])
        assert last_command <= t_hold, "commands stopped when safety/state left ACTIVE"
        assert last_command <= now() - 0.5 + 1e-6  # (sim times from stamps: 4.1 - 0.5 < 3.6 in floats)
        probe.wait_for(lambda: body()[0] == HardwareState.HOLD, WAIT_S, "the hardware to hold on the timeout")
        assert "no command for" in body()[1]
    assert run.exit_code == 0, run.output[-3000:]


def test_the_wbc_takes_over_from_the_safety_supervisor(tmp_path, domain_id):
    """The real handoff: the supervisor stands the robot up (STANDING_UP), switches to ACTIVE and
    stops commanding; the wbc takes the body at once (else the hardware would hold on its command
    timeout and the supervisor would report HOLD: recovery is off here). An e-stop stops it."""
    path = deployment_file(tmp_path, require_safety_state=True, supervisor=True)
    with LaunchedDeployment(path, domain_id, tmp_path / "logs") as run, RosProbe(domain_id, name="wbc_sup") as probe:
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True, keep=500)
        status = probe.collect(WbcStatus, "wbc/status", keep=50)
        hardware = probe.collect(HardwareState, "hardware/state", depth=50, keep=2000)
        truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", depth=50, keep=2000)

        def mode() -> str:
            return safety[-1].mode_name if safety else ""

        probe.wait_for(lambda: mode() == "ACTIVE", WAIT_S, f"the supervisor's stand-up (mode {mode()!r})")
        probe.wait_for(lambda: status and status[-1].active, WAIT_S, "the wbc to take over")
        t0 = stamp_s(status[-1])
        probe.wait_for(lambda: truth and stamp_s(truth[-1]) > t0 + 3.0, WAIT_S, "3 s of sim time on the wbc")
        assert mode() == "ACTIVE", f"the supervisor left ACTIVE: {safety[-1].reason}"
        body = [m.stop_states[list(m.groups).index("body")] for m in list(hardware) if stamp_s(m) > t0]
        assert body and all(s == HardwareState.ACTIVE for s in body), "the hardware never held the body"
        assert min(m.pose.position.z for m in list(truth) if stamp_s(m) > t0) > 0.8

        estop = probe.matched_publisher(Bool, "safety/estop", subscribers=2)  # sim, supervisor
        probe.publish_delivered(estop, Bool(data=True))
        probe.wait_for(lambda: mode() == "ESTOP", WAIT_S, "ESTOP")
        probe.wait_for(
            lambda: not status[-1].active and status[-1].inactive_reason.startswith("safety/state is ESTOP"),
            WAIT_S,
            "the wbc to stop on the e-stop",
        )
    assert run.exit_code == 0, run.output[-3000:]


class Robot:
    """What the test sees of the running robot: sim time, the palm by FK, status, the action."""

    def __init__(self, probe: RosProbe, launched: LaunchedDeployment) -> None:
        self.probe, self.launched = probe, launched
        self.status = probe.collect(WbcStatus, "wbc/status", keep=200)
        self.hardware = probe.collect(HardwareState, "hardware/state", depth=50, keep=2000)
        self.truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", depth=50, keep=2000)
        self.joints = probe.collect(JointState, "joint_states", keep=1)
        description = probe.collect(String, "robot_description", latched=True)
        probe.wait_for(lambda: description, WAIT_S, "robot_description")
        self.frames = RobotFrames(description[0].data)
        self.robot = RobotModel.from_urdf(description[0].data)
        self.targets = {
            side: probe.node.create_publisher(PoseStamped, f"wbc/targets/{side}_hand", 5) for side in ("left", "right")
        }
        self.reach = ActionClient(probe.node, Reach, "wbc/reach")
        self.follow = ActionClient(probe.node, FollowArmTrajectory, "wbc/follow_arm_trajectory")

    def now(self) -> float:
        js = self.probe.latest("joint_states")
        return stamp_s(js) if js is not None else 0.0

    def wait_sim(self, seconds: float) -> float:
        start = self.now()
        self.probe.wait_for(lambda: self.now() >= start + seconds, WAIT_S, f"{seconds} s of sim time")
        return self.now()

    def last_status(self) -> WbcStatus:
        return self.probe.latest("wbc/status")

    def owner(self, group: str) -> str:
        s = self.last_status()
        return s.owners[list(s.groups).index(group)]

    def palm_in_base(self, side: str = "right") -> np.ndarray:
        js = self.probe.latest("joint_states")
        self.frames.update(js.name, js.position)
        return self.frames.transform("base_link", f"{side}_hand")

    def base_in_world(self) -> np.ndarray:
        """4 x 4 pose of base_link in the sim's world (ground truth, 50 Hz)."""
        topic = "sim/base_pose_ground_truth"  # (a test run first can ask before the first message)
        self.probe.wait_for(lambda: self.probe.latest(topic) is not None, WAIT_S, "the ground truth")
        m = self.probe.latest(topic)
        p, o = m.pose.position, m.pose.orientation
        return pin.SE3(pin.Quaternion(o.w, o.x, o.y, o.z).toRotationMatrix(), np.array([p.x, p.y, p.z])).homogeneous

    def target(self, palm_in_base: np.ndarray, offset_m, frame: str = "base_link", age_s: float = 0.0) -> PoseStamped:
        msg = PoseStamped()
        msg.header.frame_id, msg.header.stamp = frame, to_time_msg(self.now() - age_s)
        p = palm_in_base[:3, 3] + np.asarray(offset_m, float)
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in p)
        x, y, z, w = pin.Quaternion(palm_in_base[:3, :3]).coeffs()
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = float(x), float(y), float(z), float(w)
        return msg

    def send_goal(self, goal: Reach.Goal | FollowArmTrajectory.Goal):
        client = self.follow if isinstance(goal, FollowArmTrajectory.Goal) else self.reach
        assert client.wait_for_server(timeout_sec=WAIT_S), f"{client._action_name} not available"
        future = self.probe.on_executor(client.send_goal_async, goal)
        self.probe.wait_for(future.done, WAIT_S, "the goal's acceptance")
        handle = future.result()
        assert handle.accepted
        return handle

    def joint_positions(self, names) -> np.ndarray:
        js = self.probe.latest("joint_states")
        return np.array([js.position[list(js.name).index(n)] for n in names])

    def arm_trajectory(self, side: str, joint: str, swing_rad: float, duration_s: float, points: int = 12):
        """A FollowArmTrajectory goal: `joint` of that arm from where it is by swing_rad, out and
        back (a cosine bump), the arm's other joints held where they are."""
        names = arm_joint_names(side)
        start = self.joint_positions(names)
        goal = FollowArmTrajectory.Goal()
        goal.trajectory.joint_names = names
        k = names.index(f"{side}_{joint}")
        for t in np.linspace(0.0, duration_s, points):
            phase = 2.0 * math.pi * t / duration_s
            q, v = start.copy(), np.zeros(len(names))
            q[k] += swing_rad * 0.5 * (1.0 - math.cos(phase))
            v[k] = swing_rad * 0.5 * math.sin(phase) * 2.0 * math.pi / duration_s
            point = JointTrajectoryPoint(positions=[float(x) for x in q], velocities=[float(x) for x in v])
            point.time_from_start = to_time_msg(float(t))
            goal.trajectory.points.append(point)
        return goal

    def result(self, handle) -> Reach.Result:
        future = self.probe.on_executor(handle.get_result_async)
        self.probe.wait_for(future.done, WAIT_S, "the goal's result")
        return future.result().result

    def body_state(self, msg: HardwareState) -> int:
        return msg.stop_states[list(msg.groups).index("body")]


@pytest.fixture(scope="module")
def robot(tmp_path_factory, module_domain_id):
    tmp = tmp_path_factory.mktemp("wbc")
    with (
        LaunchedDeployment(deployment_file(tmp), module_domain_id, tmp / "logs") as launched,
        RosProbe(module_domain_id, name="wbc_probe") as probe,
    ):
        r = Robot(probe, launched)
        probe.wait_for(lambda: r.status and r.last_status().active, WAIT_S, "the wbc to activate")
        yield r
        assert "Traceback" not in launched.output, launched.output[-3000:]
    assert launched.exit_code == 0, launched.output[-3000:]


def test_the_robot_stands_on_the_wbc(robot):
    t0 = robot.now()
    t_end = robot.wait_sim(4.0)
    truth = [m for m in list(robot.truth) if t0 <= stamp_s(m) <= t_end]
    states = [m for m in list(robot.hardware) if t0 <= stamp_s(m) <= t_end]
    assert len(truth) > 100 and len(states) > 100, "50 Hz ground truth and hardware/state over 4 s of sim time"
    low = min(m.pose.position.z for m in truth)
    assert low > 0.8, f"pelvis dropped to {low:.3f} m while standing on the WBC"
    held = [(stamp_s(m), list(m.reasons)) for m in states if robot.body_state(m) != HardwareState.ACTIVE]
    assert not held, f"the hardware latched the body: {held[:3]}"
    status = robot.last_status()
    assert status.active and status.inactive_reason == ""
    assert status.groups == ["left_hand", "right_hand", "gaze", "torso", "legs"]
    # microseconds, the QP a share of the tick (one tick may stall on a loaded machine: no upper bound)
    assert 0.0 < status.tick_time_us < 1e6 and 0.0 < status.qp_time_us < status.tick_time_us
    assert status.capture_point_margin_m > 0.0, "the capture point lies inside the support polygon"
    # the commands: the 38 body joints only, finite, stamped with the robot clock
    commands = robot.probe.collect(JointState, "hardware/joint_commands", keep=5)
    robot.probe.wait_for(lambda: len(commands) >= 3, WAIT_S, "commands")
    robot.probe.stop_collecting("hardware/joint_commands")
    cmd = commands[-1]
    body = [j.name for j in robot.robot.joints if j.group == "body"]
    assert sorted(cmd.name) == sorted(body) and len(cmd.name) == BODY_JOINTS
    assert len(cmd.position) == len(cmd.velocity) == len(cmd.effort) == BODY_JOINTS
    assert np.all(np.isfinite(cmd.position)) and np.all(np.isfinite(cmd.effort))
    assert abs(stamp_s(cmd) - robot.now()) < 0.5
    print(f"wbc tick {status.tick_time_us:.0f} us (QP {status.qp_time_us:.0f} us) over DDS")


def test_a_hand_target_10_cm_ahead_of_the_palm_is_reached_within_2_cm(robot):
    """The target is fixed in odom when it arrives (the pelvis then sways back to balance the
    arm), so the palm is measured in the world: FK in base_link placed by the pelvis ground truth
    (which the test may read, the node never does; leg odometry does not drift while standing)."""
    palm = robot.palm_in_base("right")
    msg = robot.target(palm, [0.10, 0.0, 0.0])
    goal_in_world = robot.base_in_world() @ np.array(
        [msg.pose.position.x, msg.pose.position.y, msg.pose.position.z, 1.0]
    )
    robot.targets["right"].publish(msg)
    robot.probe.wait_for(lambda: robot.owner("right_hand") == "teleop", WAIT_S, "teleop to own the right hand")
    t0 = robot.now()
    robot.wait_sim(2.5)
    errors = []  # the last 1.5 s, every 0.1 s of sim time: the pelvis sways on a loaded machine
    while robot.now() < t0 + 4.0:
        palm_in_world = robot.base_in_world() @ robot.palm_in_base("right")
        errors.append(float(np.linalg.norm(palm_in_world[:3, 3] - goal_in_world[:3])))
        robot.wait_sim(0.1)
    error = float(np.median(errors))
    assert error < 0.02, f"palm {error * 100:.1f} cm (median) from the target 2.5-4 s after it, {errors}"
    print(f"hand target: palm {error * 100:.2f} cm from it (median of {len(errors)} over 2.5-4 s of sim time)")
    assert robot.last_status().active


def test_reach_goal_is_owned_by_reach_while_it_runs_and_reports_reached(robot):
    palm = robot.palm_in_base("left")
    handle = robot.send_goal(Reach.Goal(hand="left", target=robot.target(palm, [0.08, 0.0, 0.08])))
    owners = []
    future = robot.probe.on_executor(handle.get_result_async)

    def done() -> bool:
        owners.append(robot.owner("left_hand"))
        return future.done()

    robot.probe.wait_for(done, WAIT_S, "the reach result")
    result = future.result().result
    assert result.outcome == Reach.Result.REACHED, result.reason
    angle_deg = math.degrees(result.orientation_error_rad)
    print(f"reach: {result.reason}, {result.distance_m * 100:.1f} cm, {angle_deg:.1f} deg")
    assert result.distance_m <= 0.02 and result.orientation_error_rad <= math.radians(5.0)
    assert "reach" in owners, f"wbc/status owners of left_hand while the goal ran: {set(owners)}"
    robot.probe.wait_for(lambda: robot.owner("left_hand") == "", WAIT_S, "the hand to be released")


def test_a_goal_that_cannot_be_reached_in_time_ends_in_timeout(robot):
    palm = robot.palm_in_base("left")
    goal = Reach.Goal(hand="left", target=robot.target(palm, [0.06, 0.0, 0.04]), timeout_s=0.05)
    result = robot.result(robot.send_goal(goal))  # 0.05 s: the hand moves at most 0.8 m/s
    assert result.outcome == Reach.Result.TIMEOUT, result.reason
    assert "after 0.05 s; the hand holds where it is" in result.reason and result.distance_m > 0.02
    robot.probe.wait_for(lambda: robot.owner("left_hand") == "", WAIT_S, "the hand to be released")


def test_a_goal_1_5_m_away_is_unreachable_with_the_reason(robot):
    palm = robot.palm_in_base("right")
    result = robot.result(robot.send_goal(Reach.Goal(hand="right", target=robot.target(palm, [1.5, 0.0, 0.0]))))
    assert result.outcome == Reach.Result.UNREACHABLE
    assert "arm reach is" in result.reason and "from the right shoulder" in result.reason, result.reason
    assert result.distance_m > 1.4
    print(f"unreachable: {result.reason}")


@pytest.mark.parametrize(
    ("goal", "reason"),
    [
        (lambda r: Reach.Goal(hand="middle", target=r.target(r.palm_in_base(), [0.05, 0, 0])), "unknown hand 'middle'"),
        (
            lambda r: Reach.Goal(hand="left", target=r.target(r.palm_in_base(), [0.05, 0, 0], frame="map")),
            "frame 'map' is not a target frame",
        ),
        (
            lambda r: Reach.Goal(hand="left", target=r.target(r.palm_in_base(), [math.nan, 0, 0])),
            "non-finite",
        ),
        (
            lambda r: Reach.Goal(
                hand="left", target=r.target(r.palm_in_base(), [0.05, 0, 0]), position_tolerance_m=-1.0
            ),
            "position_tolerance_m -1.0",
        ),
    ],
)
def test_bad_reach_goals_end_rejected_with_the_reason(robot, goal, reason):
    result = robot.result(robot.send_goal(goal(robot)))
    assert result.outcome == Reach.Result.REJECTED and reason in result.reason, result.reason


def test_cancel_and_teleop_preempt_a_running_reach(robot):
    palm = robot.palm_in_base("right")
    handle = robot.send_goal(Reach.Goal(hand="right", target=robot.target(palm, [0.05, 0.0, 0.15]), timeout_s=30.0))
    robot.probe.wait_for(lambda: robot.owner("right_hand") == "reach", WAIT_S, "the reach to own the right hand")
    cancel = robot.probe.on_executor(handle.cancel_goal_async)
    robot.probe.wait_for(cancel.done, WAIT_S, "the cancel reply")
    result = robot.result(handle)
    assert result.outcome == Reach.Result.CANCELED and "canceled" in result.reason, result.reason
    # (wbc/status may report the release a period after the result)
    robot.probe.wait_for(lambda: robot.owner("right_hand") == "", WAIT_S, "the cancel to release the right hand")

    palm = robot.palm_in_base("right")
    handle = robot.send_goal(Reach.Goal(hand="right", target=robot.target(palm, [0.05, 0.0, 0.15]), timeout_s=30.0))
    robot.probe.wait_for(lambda: robot.owner("right_hand") == "reach", WAIT_S, "the reach to own the right hand")
    robot.targets["right"].publish(robot.target(robot.palm_in_base("right"), [0.0, 0.0, 0.0]))
    result = robot.result(handle)
    assert result.outcome == Reach.Result.CANCELED and result.reason == "pre-empted by teleop", result.reason
    robot.probe.wait_for(lambda: robot.owner("right_hand") == "teleop", WAIT_S, "teleop to own the right hand")


def test_an_arm_trajectory_is_followed_while_the_robot_balances(robot):
    """The right elbow bent by 0.4 rad more and back over 2 s of sim time: the arm is owned by the
    trajectory while it runs, feedback comes, the measured joints keep to it, and it ends SUCCEEDED
    with the elbow where the trajectory ends."""
    goal = robot.arm_trajectory("right", "elbow", 0.4, 2.0)
    halfway = np.array(goal.trajectory.points[len(goal.trajectory.points) // 2].positions)
    names = list(goal.trajectory.joint_names)
    feedback, owners, swung = [], [], []
    client = robot.follow
    assert client.wait_for_server(timeout_sec=WAIT_S), "wbc/follow_arm_trajectory not available"
    future = robot.probe.on_executor(lambda: client.send_goal_async(goal, feedback_callback=feedback.append))
    robot.probe.wait_for(future.done, WAIT_S, "the goal's acceptance")
    handle = future.result()
    assert handle.accepted
    result_future = robot.probe.on_executor(handle.get_result_async)

    def done() -> bool:
        owners.append(robot.owner("right_hand"))
        swung.append(float(np.max(np.abs(robot.joint_positions(names) - halfway))))
        return result_future.done()

    robot.probe.wait_for(done, WAIT_S, "the trajectory's result")
    result = result_future.result().result
    assert result.outcome == FollowArmTrajectory.Result.SUCCEEDED, result.reason
    assert result.max_error_rad < 0.05, f"{result.worst_joint} {result.max_error_rad:.3f} rad off the trajectory"
    assert "trajectory" in owners, f"wbc/status owners of right_hand while it ran: {set(owners)}"
    assert min(swung) < 0.05, f"the elbow never came near the trajectory's midpoint (closest {min(swung):.3f} rad)"
    assert feedback and all(f.feedback.error_rad < 0.15 for f in feedback)
    end = np.array(goal.trajectory.points[-1].positions)
    assert float(np.max(np.abs(robot.joint_positions(names) - end))) < 0.05
    robot.probe.wait_for(lambda: robot.owner("right_hand") == "", WAIT_S, "the arm to be released")
    assert robot.last_status().active
    print(f"arm trajectory: {result.reason}; max error {result.max_error_rad:.4f} rad ({result.worst_joint})")


def _bad_trajectories(robot):
    two_arms = robot.arm_trajectory("right", "elbow", 0.2, 1.0)
    two_arms.trajectory.joint_names = [*two_arms.trajectory.joint_names[:-1], "left_elbow"]
    nan = robot.arm_trajectory("right", "elbow", 0.2, 1.0)
    nan.trajectory.points[3].positions[5] = math.nan
    backwards = robot.arm_trajectory("right", "elbow", 0.2, 1.0)
    backwards.trajectory.points[4].time_from_start = to_time_msg(0.01)
    far = robot.arm_trajectory("right", "elbow", 0.2, 1.0)
    for point in far.trajectory.points:
        point.positions[5] += 0.5
    short = robot.arm_trajectory("right", "elbow", 0.2, 1.0)
    short.trajectory.points[2].positions = short.trajectory.points[2].positions[:4]
    past_limit = robot.arm_trajectory("right", "elbow", -0.6, 1.0)  # the elbow stands at 0.3, its lower limit -0.05
    tolerance = robot.arm_trajectory("right", "elbow", 0.2, 1.0)
    tolerance.path_tolerance_rad = -0.1
    return [
        (two_arms, "must all belong to one arm"),
        (nan, "positions_rad of right_elbow is not finite"),
        (backwards, "strictly increasing"),
        (far, "plan from the current joint positions"),
        (short, "point 2 has 4 positions for 9 joints"),
        (past_limit, "outside its limits"),
        (tolerance, "path_tolerance_rad -0.1"),
    ]


def test_bad_arm_trajectories_are_rejected_with_the_reason_and_move_nothing(robot):
    names = arm_joint_names("right")
    before = robot.joint_positions(names)
    for goal, reason in _bad_trajectories(robot):
        result = robot.result(robot.send_goal(goal))
        assert result.outcome == FollowArmTrajectory.Result.REJECTED and reason in result.reason, (reason, result)
    assert float(np.max(np.abs(robot.joint_positions(names) - before))) < 0.05  # (the arm settles a little)
    assert robot.owner("right_hand") == ""


def test_a_cancelled_arm_trajectory_stops_where_it_is(robot):
    handle = robot.send_goal(robot.arm_trajectory("left", "shoulder_pitch", -0.5, 6.0))
    robot.probe.wait_for(lambda: robot.owner("left_hand") == "trajectory", WAIT_S, "the trajectory to own the arm")
    robot.wait_sim(1.0)
    robot.probe.on_executor(handle.cancel_goal_async)
    result = robot.result(handle)
    assert result.outcome == FollowArmTrajectory.Result.CANCELED and "canceled" in result.reason, result.reason
    robot.probe.wait_for(lambda: robot.owner("left_hand") == "", WAIT_S, "the cancel to release the left arm")
    assert robot.last_status().active


@pytest.mark.parametrize(
    ("offset", "frame", "age_s", "reason"),
    [
        ([math.nan, 0.0, 0.0], "base_link", 0.0, "non-finite"),
        ([0.05, 0.0, 0.0], "camera_link", 0.0, "frame 'camera_link' is not a target frame"),
        ([0.05, 0.0, 0.0], "base_link", 2.0, "is stale (limit 0.5 s)"),
        ([1.5, 0.0, 0.0], "base_link", 0.0, "unreachable: target"),
    ],
)
def test_refused_targets_are_shown_on_status_and_change_no_command(robot, offset, frame, age_s, reason):
    commands = robot.probe.collect(JointState, "hardware/joint_commands", keep=1)
    robot.probe.wait_for(lambda: commands, WAIT_S, "a command")
    arm = [f"right_{j}" for j in ARM_JOINTS]

    def arm_command() -> np.ndarray:
        c = robot.probe.latest("hardware/joint_commands")
        index = {n: i for i, n in enumerate(c.name)}
        return np.array([c.position[index[n]] for n in arm])

    def motion_over(seconds: float) -> float:
        before = arm_command()
        robot.wait_sim(seconds)
        return float(np.max(np.abs(arm_command() - before)))

    for _ in range(20):  # the arm settles on whatever target it had (at most 10 s of sim time)
        if motion_over(0.5) < 0.003:
            break
    owner = robot.owner("right_hand")
    rejected = robot.last_status().targets_rejected
    before = arm_command()
    robot.targets["right"].publish(robot.target(robot.palm_in_base("right"), offset, frame=frame, age_s=age_s))
    robot.probe.wait_for(lambda: robot.last_status().targets_rejected == rejected + 1, WAIT_S, "the refusal")
    status = robot.last_status()
    assert reason in status.last_rejection and status.last_rejection.startswith("wbc/targets/right_hand"), (
        status.last_rejection
    )
    robot.wait_sim(0.5)
    moved = float(np.max(np.abs(arm_command() - before)))
    robot.probe.stop_collecting("hardware/joint_commands")
    assert moved < 0.01, f"the right arm's commands moved by {moved:.3f} rad after a refused target"
    assert robot.owner("right_hand") == owner and robot.last_status().active


def test_gaze_and_torso_targets_take_their_groups_and_bad_ones_are_refused(robot):
    gaze = PointStamped()
    gaze.header.frame_id, gaze.header.stamp = "base_link", to_time_msg(robot.now())
    gaze.point.x, gaze.point.y, gaze.point.z = 2.0, 0.3, 0.5
    publishers = {
        "gaze": robot.probe.matched_publisher(PointStamped, "wbc/targets/gaze", 5),
        "torso": robot.probe.matched_publisher(PoseStamped, "wbc/targets/torso", 5),
    }
    publishers["gaze"].publish(gaze)
    robot.probe.wait_for(lambda: robot.owner("gaze") == "teleop", WAIT_S, "teleop to own the gaze")
    torso = PoseStamped()
    torso.header.frame_id, torso.header.stamp = "base_link", to_time_msg(robot.now())
    js = robot.probe.latest("joint_states")
    robot.frames.update(js.name, js.position)
    torso_z = robot.frames.transform("base_link", "torso")[2, 3]  # the torso frame's pose, as teleop sends it
    torso.pose.position.z = torso_z - 0.03  # 3 cm lower than now
    torso.pose.orientation.w = 1.0
    publishers["torso"].publish(torso)
    robot.probe.wait_for(lambda: robot.owner("torso") == "teleop", WAIT_S, "teleop to own the torso")
    rejected = robot.last_status().targets_rejected
    torso.header.stamp = to_time_msg(robot.now())
    torso.pose.position.z = torso_z - 0.5  # half a metre down: a squat the standing controller refuses
    publishers["torso"].publish(torso)
    robot.probe.wait_for(lambda: robot.last_status().targets_rejected == rejected + 1, WAIT_S, "the refusal")
    assert "wbc/targets/torso: pelvis height" in robot.last_status().last_rejection
    t0 = robot.now()
    robot.wait_sim(2.0)
    truth = [m.pose.position.z for m in list(robot.truth) if stamp_s(m) >= t0]
    assert truth and min(truth) > 0.8 and robot.last_status().active
    print(f"torso target: pelvis ground truth {np.mean(truth):.3f} m")


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"pose": "handstand"}, "parameter pose='handstand': valid values are stand, "),
        ({"com_gain": -1.0}, r"parameter com_gain=-1.0 outside 0..200 1/s"),
        ({"rate_hz": 5000.0}, "parameter rate_hz=5000.0 outside 50..2000 Hz"),
        ({"sensor_timeout_s": 0.0}, "parameter sensor_timeout_s=0.0 outside 0.002..1 s"),
        ({"reach.timeout_s": 0.0}, "parameter reach.timeout_s=0.0 outside 0.1..60 s"),
    ],
)
def test_bad_parameters_stop_the_node_at_start_naming_the_parameter(parameters, reason, domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        with pytest.raises(ControlConfigError, match=reason):
            WbcNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()])
    finally:
        rclpy.shutdown(context=context)


def test_cmd_vel_walks_the_robot_and_silence_stops_it_in_place(robot):
    """Walking over DDS: cmd_vel at 10 Hz (robot-clock stamps) walks the robot forward on the WBC,
    the legs owned by cmd_vel on wbc/status; a NaN command is refused with the reason; when the
    commands stop, the robot stops within cmd_vel_timeout_s and two steps, and gives the legs back."""
    probe = robot.probe
    cmd = probe.node.create_publisher(TwistStamped, "cmd_vel", 10)
    start_x, rejected = robot.base_in_world()[0, 3], robot.last_status().targets_rejected

    def send(vx: float) -> None:
        msg = TwistStamped()
        msg.header.frame_id, msg.header.stamp = "base_link", to_time_msg(robot.now())
        msg.twist.linear.x = vx
        cmd.publish(msg)

    t0 = robot.now()
    while robot.now() < t0 + 4.0:
        send(0.2)
        probe.wait_for(lambda t=robot.now(): robot.now() >= t + 0.1, WAIT_S, "0.1 s of sim time")
    assert robot.owner("legs") == "cmd_vel"
    send(float("nan"))
    probe.wait_for(lambda: robot.last_status().targets_rejected > rejected, WAIT_S, "the NaN command refused")
    assert "non-finite" in robot.last_status().last_rejection
    probe.wait_for(lambda: robot.owner("legs") == "", WAIT_S, "the walk to end")
    robot.wait_sim(1.0)
    walked = robot.base_in_world()[0, 3] - start_x
    assert 0.3 < walked < 1.2, f"walked {walked:.2f} m"
    body = [robot.body_state(m) for m in list(robot.hardware) if stamp_s(m) > t0]
    assert body and all(s == HardwareState.ACTIVE for s in body), "the hardware held the body while walking"
    assert robot.base_in_world()[2, 3] > 0.8 and robot.last_status().active


def test_walk_to_refuses_bad_goals_with_the_reason_and_stops_on_cancel(robot):
    probe = robot.probe
    client = ActionClient(probe.node, WalkTo, "wbc/walk_to")
    assert client.wait_for_server(timeout_sec=WAIT_S), "wbc/walk_to not available"

    def goal(x: float, frame: str = "odom") -> WalkTo.Goal:
        g = WalkTo.Goal()
        g.target.header.frame_id = frame
        g.target.pose.position.x, g.target.pose.orientation.w = x, 1.0
        return g

    def send(g: WalkTo.Goal):
        future = probe.on_executor(client.send_goal_async, g)
        probe.wait_for(future.done, WAIT_S, "the goal's acceptance")
        return future.result()

    def result(handle) -> WalkTo.Result:
        future = probe.on_executor(handle.get_result_async)
        probe.wait_for(future.done, WAIT_S, "the goal's result")
        return future.result().result

    refused = result(send(goal(1.0, frame="base_link")))
    assert refused.outcome == WalkTo.Result.REJECTED and "odom" in refused.reason
    refused = result(send(goal(math.nan)))
    assert refused.outcome == WalkTo.Result.REJECTED and "non-finite numbers: position" in refused.reason
    tilted = goal(1.0)
    tilted.target.pose.orientation.z = 0.5  # |q| = 1.118
    refused = result(send(tilted))
    assert refused.outcome == WalkTo.Result.REJECTED and "must be a unit quaternion" in refused.reason
    far = result(send(goal(50.0)))
    assert far.outcome == WalkTo.Result.UNREACHABLE and "waypoints" in far.reason
    handle = send(goal(3.0))
    probe.wait_for(lambda: robot.owner("legs") == "walk_to", WAIT_S, "the legs owned by walk_to")
    robot.wait_sim(1.0)
    probe.on_executor(handle.cancel_goal_async)
    ended = result(handle)
    assert ended.outcome == WalkTo.Result.CANCELED and "canceled" in ended.reason
    probe.wait_for(lambda: robot.owner("legs") == "", WAIT_S, "the legs released")
    robot.wait_sim(3.0)
    assert robot.base_in_world()[2, 3] > 0.8 and robot.last_status().active
