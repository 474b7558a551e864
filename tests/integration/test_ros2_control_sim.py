"""The real controller_manager commands the MuJoCo sim through the topic hardware (the CI tier of
issue 17): ros2_control_node loads the Forma description under hardware:=topic
(joint_state_topic_hardware_interface/JointStateTopicSystem, the Jazzy release), reads the sim's
joint_states (remapped to hardware/joint_states) and sends, for each command group (body, each
hand: one topic hardware each), one command on hardware/joint_commands every cycle, where the
sim's hardware contract checks it.

Checked, in this order, on one running stack (sim time from the sim's /clock, which the controller
manager follows):
- the controllers the topic path spawns (config/controllers.yaml minus the sensor broadcasters,
  forma_bringup.ros2_control_plan) are all active after one spawner run that exits 0;
- safe start: before anyone commands, the streams' position targets are NaN, and the contract
  refuses them even right after hardware/reset: the groups hold (watchdog) and no joint moves;
  each group streams on its own: the body commanded alone is accepted, the hands still hold;
- a commander takes over through the controllers (stand pose on the body and both hands, then
  reset): a body and a finger command move those joints and nothing else;
- joint_state_broadcaster publishes all 82 joints, >= 90 % of the update rate over sim time;
- a past-limit command through a controller is refused below it (the contract): nothing moves, the
  group holds, and a valid command and a reset bring it back; a NaN command is dropped by the
  controller itself, and a NaN target no controller wrote is refused by the contract (safe start)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from forma_bringup.ros2_control_plan import HARDWARE_NODE_REMAPPINGS, topic_controller_spawn
from forma_description import RobotModel, expand_description
from forma_description.poses import named_pose
from forma_interfaces.msg import HardwareState
from tests.support import ros2_control as r2c
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.integration
if not r2c.available():
    pytest.skip(r2c.MISSING, allow_module_level=True)

UPDATE_RATE_HZ = 500  # config/controllers.yaml
WINDOW_S = 5.0  # sim time over which the broadcaster's rate is counted
POSE = "stand"  # the sim spawns and holds this pose; the test's commander takes over there
GROUPS = ("body", "left_hand", "right_hand")  # one topic hardware each


class Stack:
    """The sim, controller_manager with the topic hardware, and a probe that plays the commander."""

    def __init__(self, probe: RosProbe, robot: RobotModel, launched: LaunchedDeployment, domain_id: int):
        self.probe, self.robot, self.launched, self.domain_id = probe, robot, launched, domain_id
        cfg = yaml.safe_load(r2c.CONTROLLERS.read_text())
        self.controller_joints = {
            name: cfg[name]["ros__parameters"]["joints"]
            for name in ("body_position_controller", "left_hand_position_controller", "right_hand_position_controller")
        }
        self.index = {n: i for i, n in enumerate(robot.joint_names)}
        self.states = probe.collect(JointState, "/joint_states", depth=100, keep=3000)  # joint_state_broadcaster
        self.listen_to_the_hardware_topics()
        self.hardware = probe.collect(HardwareState, "/hardware/state", keep=5)
        self.diagnostics = probe.collect(DiagnosticArray, "/diagnostics", keep=10)
        self.commanders = {
            name: probe.node.create_publisher(Float64MultiArray, f"/{name}/commands", 10)
            for name in self.controller_joints
        }

    def listen_to_the_hardware_topics(self, listen: bool = True) -> None:
        """The sim's joint_states and the topic hardware's commands, 500 Hz each: off while the
        broadcaster's rate is measured (the probe's Python must not be what is measured)."""
        if listen:
            self.measured = self.probe.collect(JointState, "/hardware/joint_states", keep=5)  # the sim's own
            self.stream = self.probe.collect(JointState, "/hardware/joint_commands", keep=30)  # the topic hardware's
        else:
            self.probe.stop_collecting("/hardware/joint_states")
            self.probe.stop_collecting("/hardware/joint_commands")

    # --- time and state --------------------------------------------------------------------
    def now(self) -> float:
        """Sim time [s]: the newest joint_state_broadcaster stamp (controller_manager's clock)."""
        with self.probe.lock:
            return stamp_s(self.states[-1])

    def wait_sim(self, seconds: float) -> None:
        """Let `seconds` of sim time pass (a wall-clock bound only guards against a stall)."""
        end = self.now() + seconds
        self.probe.wait_for(lambda: self.now() >= end, 60 + 20 * seconds, f"{seconds} s of sim time")

    def q(self) -> np.ndarray:
        """The sim's measured joint positions [rad], in the robot's joint order."""
        with self.probe.lock:
            msg = self.measured[-1]
        index = {n: i for i, n in enumerate(msg.name)}
        return np.array([msg.position[index[n]] for n in self.robot.joint_names])

    def last_rejection(self) -> str:
        """The hardware contract's last refusal, from the sim's diagnostics (controller_manager
        publishes its own on the same topic)."""
        t = self.now()

        def gate() -> list:
            with self.probe.lock:
                return [
                    st for m in self.diagnostics if stamp_s(m) > t for st in m.status if st.name == "sim: command gate"
                ]

        self.probe.wait_for(gate, 30, "fresh diagnostics of the sim's command gate")
        return next(kv.value for kv in gate()[-1].values if kv.key == "last_rejection")

    def group(self, name: str) -> tuple[int, str, int]:
        """(stop state, reason, commands rejected so far) of a command group, fresh from hardware/state."""
        t = self.now()
        self.probe.wait_for(lambda: self.hardware and stamp_s(self.hardware[-1]) > t, 30, "a fresh hardware/state")
        with self.probe.lock:
            msg = self.hardware[-1]
        i = list(msg.groups).index(name)
        return msg.stop_states[i], msg.reasons[i], msg.commands_rejected

    # --- commanding through the controllers ------------------------------------------------
    def command(self, q: np.ndarray, only: str | None = None) -> None:
        """Position targets [rad] (robot joint order) to the position controllers (or only one)."""
        for name, joints in self.controller_joints.items():
            if only is None or name == only:
                data = [float(q[self.index[j]]) for j in joints]
                self.commanders[name].publish(Float64MultiArray(data=data))

    def streams(self) -> dict[str, JointState]:
        """The newest command of each group's topic hardware (body, left_hand, right_hand)."""
        group_of = {j.name: j.group for j in self.robot.joints}
        newest: dict[str, JointState] = {}
        with self.probe.lock:
            for msg in reversed(self.stream):
                newest.setdefault(group_of[msg.name[0]], msg)
        return newest

    def stream_is(self, q: np.ndarray, groups: tuple[str, ...] = GROUPS) -> bool:
        """Do these groups' topic hardware stream these position targets for each of their joints?"""
        streams = self.streams()
        for group in groups:
            msg = streams.get(group)
            if msg is None:
                return False
            sent = np.asarray(msg.position)
            if not (np.all(np.isfinite(sent)) and np.allclose(sent, q[[self.index[n] for n in msg.name]], atol=1e-9)):
                return False
        return True

    def take_over(self, q: np.ndarray) -> None:
        """A commander takes over: targets through the controllers first, then hardware/reset."""
        self.probe.wait_for(
            lambda: all(p.get_subscription_count() for p in self.commanders.values()),
            30,
            "the controllers' command subscriptions",
        )
        self.probe.wait_for(lambda: self.command(q) or self.stream_is(q), 30, "the commands in the stream")
        reply = self.probe.call(Trigger, "/hardware/reset", Trigger.Request())
        assert reply.success, reply.message
        self.wait_sim(0.3)  # three body watchdog periods: a refused stream would have latched HOLD
        for group in GROUPS:
            state, reason, _ = self.group(group)
            assert state == HardwareState.ACTIVE, f"{group}: {reason}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, module_domain_id):
    tmp = tmp_path_factory.mktemp("r2c_sim")
    robot = RobotModel.from_urdf(expand_description())
    sim = node(
        "sim",
        world="empty",
        initial_pose=POSE,
        control_rate_hz=500.0,
        sensor_rate_hz=500.0,  # the topic hardware reads joint_states: one sample per controller_manager cycle
        clock_rate_hz=500.0,  # controller_manager runs on sim time: one /clock per cycle
        **{"camera.rate_hz": 0.0},
        remappings=HARDWARE_NODE_REMAPPINGS,
    )
    path = write_deployment(tmp, "r2c_sim", [process("sim", sim)], use_sim_time=None)
    overrides = r2c.ci_overrides(tmp, use_sim_time=True)
    spawn = topic_controller_spawn(yaml.safe_load(r2c.CONTROLLERS.read_text()))
    with (
        LaunchedDeployment(path, module_domain_id, tmp / "logs") as launched,
        RosProbe(module_domain_id, name="r2c_probe") as probe,
    ):
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        # what robot_state_publisher serves on a ROS 2 install (launch/robot_ros2_control.launch.py)
        description = probe.node.create_publisher(String, "/robot_description", latched)
        description.publish(String(data=expand_description(hardware="topic")))
        s = Stack(probe, robot, launched, module_domain_id)
        manager = r2c.start_controller_manager(
            module_domain_id, [r2c.CONTROLLERS, overrides], tmp / "controller_manager.log"
        )
        try:
            s.spawner = r2c.spawn(module_domain_id, spawn.active)
            s.spawned = spawn
            probe.wait_for(lambda: s.states and s.measured, 60, "joint_states from the broadcaster and the sim")
            yield s
        finally:
            r2c.stop(manager)
            print((tmp / "controller_manager.log").read_text()[-6000:])


def test_every_controller_of_the_topic_path_is_active(stack):
    assert stack.spawner.returncode == 0, stack.spawner.stdout[-3000:] + stack.spawner.stderr[-3000:]
    states = r2c.list_controllers(stack.domain_id)
    assert states == {name: "active" for name in stack.spawned.active}
    writers = {i.node_name for i in stack.probe.node.get_publishers_info_by_topic("/hardware/joint_commands")}
    assert writers == {"forma_body", "forma_left_hand", "forma_right_hand"}, writers
    # the sensors reach ROS from the hardware node itself, not through ros2_control (by design)
    assert not any("broadcaster" in n and n != "joint_state_broadcaster" for n in states)
    imu = stack.probe.collect(Imu, "/imu/data", keep=2)
    stack.probe.wait_for(lambda: imu, 30, "imu/data from the sim")
    stack.probe.stop_collecting("/imu/data")  # 500 Hz the probe need not read on


def test_safe_start_nothing_streams_a_pose_no_one_commanded(stack):
    """Before any command each group's stream carries NaN position targets, and after
    hardware/reset the contract refuses them: the groups hold after their watchdogs and no joint
    moves. (The topic hardware with initial_value 0.0 command targets streamed the all-zero pose,
    which is within the limits: after a reset the sim would have tracked it.) Each group has its
    own stream: the body commanded alone is accepted while the hands, still uncommanded, hold."""
    s = stack
    s.probe.wait_for(lambda: len(s.streams()) == 3, 30, "the command streams of the three groups")
    for group, msg in s.streams().items():
        n = len(s.robot.group_joint_names(group))
        assert len(msg.name) == n, group
        assert all(math.isnan(p) for p in msg.position), f"{group}: a position target no one commanded"
        assert list(msg.velocity) == [0.0] * n and list(msg.effort) == [0.0] * n
    q0 = s.q()
    state, _, rejected0 = s.group("body")
    assert state == HardwareState.HOLD  # as the sim starts: waiting for the supervisor's reset
    reply = s.probe.call(Trigger, "/hardware/reset", Trigger.Request())
    assert reply.success, reply.message
    s.wait_sim(0.5)
    for group in GROUPS:
        state, reason, rejected = s.group(group)
        assert state == HardwareState.HOLD and "no command" in reason, f"{group}: {reason}"
    assert rejected - rejected0 >= 3 * 100, "the streams of NaN targets were not refused"
    assert "not a finite number" in s.last_rejection()
    q = s.q()
    bent = np.abs(q0) > 0.2  # knees, elbows, neck pitch, ...: the all-zero pose would straighten them
    assert np.all(np.abs(q[bent]) > np.abs(q0[bent]) - 0.05), "joints moved toward the pose no one commanded"
    assert np.max(np.abs(q - q0)) < 0.1, "a joint moved with no one commanding"  # the reset's own settling only

    pose = named_pose(POSE, s.robot)
    s.probe.wait_for(
        lambda: s.command(pose, only="body_position_controller") or s.stream_is(pose, ("body",)),
        30,
        "the body's commands in its stream",
    )
    assert s.probe.call(Trigger, "/hardware/reset", Trigger.Request()).success
    s.wait_sim(0.5)
    assert s.group("body")[0] == HardwareState.ACTIVE, s.group("body")[1]
    for hand in ("left_hand", "right_hand"):
        state, reason, _ = s.group(hand)
        assert state == HardwareState.HOLD and "no command" in reason, f"{hand}: {reason}"


def test_commands_through_the_controllers_move_the_joints(stack):
    s = stack
    pose = named_pose(POSE, s.robot)
    s.take_over(pose)
    before = s.q()
    goal = pose.copy()
    moved = {"neck_yaw": 0.3, "left_elbow": 0.3, "right_shoulder_yaw": -0.2, "left_index_pip": 0.5}
    for name, delta in moved.items():
        goal[s.index[name]] += delta
    s.command(goal)
    s.wait_sim(1.0)
    after = s.q()
    for name, delta in moved.items():
        i = s.index[name]
        assert (after[i] - before[i]) / delta > 0.8, f"{name} moved {after[i] - before[i]:+.3f} rad of {delta:+.3f}"
    others = [i for n, i in s.index.items() if n not in moved and not n.startswith("left_index")]
    assert np.max(np.abs(after[others] - before[others])) < 0.05, "joints nobody commanded moved"
    assert s.group("body")[0] == HardwareState.ACTIVE


def test_joint_state_broadcaster_publishes_82_joints_at_the_update_rate(stack):
    """Distinct stamps over WINDOW_S of sim time: one per controller_manager cycle that ran on
    time (a late cycle runs at once, at the sim time it finds: a stamp twice, the missed one never)."""
    s = stack
    if s.group("body")[0] != HardwareState.ACTIVE:
        s.take_over(named_pose(POSE, s.robot))
    with s.probe.lock:
        msg = s.states[-1]
    assert len(msg.name) == 82 and set(msg.name) == set(s.robot.joint_names) and np.all(np.isfinite(msg.position))
    # only the stamps of /joint_states while it is counted: the probe's Python must not be what is measured
    s.listen_to_the_hardware_topics(False)
    s.probe.stop_collecting("/joint_states")
    stamps = s.probe.collect_stamps(JointState, "/joint_states")
    try:
        s.probe.wait_for(lambda: stamps, 30, "/joint_states")
        start = stamps[-1]
        s.probe.wait_for(lambda: stamps[-1] >= start + WINDOW_S, 60 + 20 * WINDOW_S, f"{WINDOW_S} s of sim time")
        with s.probe.lock:
            window = [t for t in stamps if start < t <= start + WINDOW_S]
    finally:
        s.probe.stop_collecting("/joint_states")
        s.states = s.probe.collect(JointState, "/joint_states", depth=100, keep=3000)
        s.listen_to_the_hardware_topics()
        s.probe.wait_for(lambda: s.states and s.measured, 30, "/joint_states and the sim's joint_states again")
    rate = len(set(window)) / WINDOW_S
    print(f"joint_state_broadcaster: {rate:.0f} Hz over {WINDOW_S} s of sim time ({len(window)} messages)")
    assert rate >= 0.9 * UPDATE_RATE_HZ, f"{rate:.0f} Hz < 90 % of {UPDATE_RATE_HZ} Hz"


def test_a_past_limit_command_through_a_controller_is_refused_below_it(stack):
    """forward_command_controller passes any finite number on: the hardware contract refuses the
    whole stream (beyond the clamp margin), nothing moves, and the body holds until a valid
    command and a reset."""
    s = stack
    pose = named_pose(POSE, s.robot)
    s.take_over(pose)
    elbow = s.index["left_elbow"]
    bad = pose.copy()
    bad[elbow] = s.robot.joints[elbow].upper + 0.3
    q0 = s.q()
    _, _, rejected0 = s.group("body")
    s.command(bad, only="body_position_controller")
    s.probe.wait_for(lambda: s.stream_is(bad), 30, "the past-limit target in the stream")
    s.wait_sim(0.5)
    state, reason, rejected = s.group("body")
    assert rejected - rejected0 >= 100, "the stream was not refused"
    assert state == HardwareState.HOLD and "no command" in reason, reason
    assert "outside its limits" in s.last_rejection()
    assert abs(s.q()[elbow] - q0[elbow]) < 0.02, "the elbow moved toward a target past its limit"
    s.take_over(pose)  # a valid command, then the supervisor's reset: commanded again


def test_a_nan_command_is_dropped_by_the_controller_and_never_reaches_the_hardware(stack):
    """A NaN command on a controller's topic is dropped by forward_command_controller itself
    ("Non-finite value received"): the stream keeps the last valid targets and the robot stays
    commanded. The NaN that does get through ros2_control — a target no controller has written —
    is the hardware contract's to refuse (test_safe_start_...)."""
    s = stack
    pose = named_pose(POSE, s.robot)
    s.take_over(pose)
    neck = s.index["neck_yaw"]
    bad = pose.copy()
    bad[neck] = math.nan
    q0 = s.q()
    _, _, rejected0 = s.group("body")
    s.command(bad, only="body_position_controller")
    s.wait_sim(0.5)
    state, reason, rejected = s.group("body")
    assert state == HardwareState.ACTIVE and rejected == rejected0, reason
    assert s.stream_is(pose), "the stream changed after a NaN command"
    assert abs(s.q()[neck] - q0[neck]) < 0.02
