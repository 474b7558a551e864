"""The whole-body control node (DESIGN §4): the forma_control.wbc core over DDS.

Each state sample (500 Hz from the hardware) is one control tick, run only while the safety
supervisor says ACTIVE and the sensors are usable; entering ACTIVE starts the
controller from the measured pose, leaving it stops publishing at once (the hardware holds on the
command timeout: the designed fallback, also taken on a QP failure or any error in the tick).
Task targets arrive on wbc/targets/* (teleop) and through the wbc/reach action; each target group
has one owner, shown on wbc/status. Refused targets change nothing and say why.

The control loop runs in its own thread, woken by each state sample (a direct subscription, not the
executor: rclpy's executor costs ~150 us of Python per wake-up, a fifth of a core at 500 Hz). The
state comes from hardware/robot_state (state_input robot_state, the default: one message per
control period from a Forma hardware node), or from joint_states with the newest imu/data and feet
wrenches taken alongside (state_input topics: any ROS 2 hardware, e.g. ros2_control's broadcasters).
Targets, the Reach action, the status timer and parameters run on the process's executor; a lock
guards the controller between the two. The Reach action's execute callback is a coroutine awaiting
a future that the control loop completes (and wakes the executor for).
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time

import numpy as np
import pinocchio as pin
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped, WrenchStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.messages import stamp_s, to_time_msg
from forma_common.node import GoalResult, declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_common.scheduling import pin_loop_thread
from forma_common.state_cdr import JointStateWriter, RobotStateFormatError, RobotStateReader, RobotStateSample
from forma_control.errors import ControlConfigError, ControlError, TargetRejected
from forma_control.walk.gait import WalkSettings
from forma_control.walk.walk_to import STALL_S, WalkToProgress
from forma_control.wbc.arm_trajectory import FollowOutcome
from forma_control.wbc.controller import WbcSettings
from forma_control.wbc.estimator import Sensors
from forma_control.wbc.io import (
    FOLLOW_RESULT,
    HAND_GROUP,
    SIDES,
    Authority,
    ReachDefaults,
    ReachRequest,
    SensorsNotReady,
    TorsoLimits,
    arm_trajectory_request,
    gaze_goal,
    joint_indices,
    output_problem,
    point_target,
    pose_target,
    reach_request,
    sensors_from_messages,
    sensors_from_robot_state,
    sensors_from_robot_state_sample,
    torso_goal,
)
from forma_control.wbc.lockstep import build_controller
from forma_control.wbc.model import HANDS
from forma_control.wbc.reach import ReachabilityChecker, ReachProgress, pose_error
from forma_control.wbc.targets import TargetLimits, check_target, to_odom, walk_to_goal, walk_velocity
from forma_description import DescriptionError, RobotModel
from forma_description.poses import available_poses
from forma_interfaces.action import FollowArmTrajectory, Reach, WalkTo
from forma_interfaces.msg import HardwareState, RobotState, SafetyState, WbcStatus

MAX_PAUSE_S = 0.1  # a lagging sensor stream pauses the ticks this long before the controller disengages [s]
JOINT_STATES_SILENT_S = 0.2  # wbc/status shows inactive when joint_states stop this long [s, wall]


@dataclasses.dataclass(frozen=True)
class WbcParams:
    """The node's own parameters (the controller's are WbcSettings', same names)."""

    pose: str = param(
        "stand", "named pose (urdf/poses.yaml): the posture task's nominal pose", choices=available_poses()
    )
    require_safety_state: bool = param(
        True,
        "true: tick only while safety/state is ACTIVE (the safety supervisor decides); false: bring-up without a "
        "supervisor: call hardware/reset once and activate on its own",
    )
    safety_timeout_s: float = param(
        0.5,
        "require_safety_state: an ACTIVE safety/state stamped longer ago than this (robot clock) stops the node "
        "until the supervisor reports another mode (a dead or stalled supervisor watches for no fall)",
        unit="s",
        low=0.05,
        high=10.0,
    )
    state_input: str = param(
        "robot_state",
        "robot_state: hardware/robot_state (a Forma hardware node: one message per control period); topics: "
        "joint_states + imu/data + feet/{left,right}/wrench (any ROS 2 hardware)",
        choices=("robot_state", "topics"),
    )
    sensor_timeout_s: float = param(
        0.5,
        "state_input topics: imu/data and feet wrenches further than this from joint_states are stale",
        unit="s",
        low=0.002,
        high=1.0,
    )
    target_max_age_s: float = param(
        0.5, "task targets stamped longer ago than this (robot clock) are refused", unit="s", low=0.01, high=10.0
    )
    target_max_future_s: float = param(
        0.05, "task targets stamped further ahead than this are refused", unit="s", low=0.0, high=1.0
    )
    target_max_distance_m: float = param(
        3.0, "task targets further than this from base_link are refused", unit="m", low=0.1, high=10.0
    )
    status_rate_hz: float = param(
        10.0, "wbc/status rate; it is also sent on every change", unit="Hz", low=0.5, high=100.0
    )
    cmd_vel_timeout_s: float = param(
        0.5,
        "walking: no cmd_vel (or one stamped) longer ago than this (robot clock) stops the robot in place",
        unit="s",
        low=0.05,
        high=5.0,
    )


@dataclasses.dataclass(frozen=True)
class ReachParams:
    """Defaults of a Reach goal that gives 0 (parameters reach.*)."""

    position_tolerance_m: float = param(0.02, "default Reach position tolerance", unit="m", low=0.001, high=0.5)
    orientation_tolerance_deg: float = param(
        5.0, "default Reach orientation tolerance", unit="deg", low=0.1, high=180.0
    )
    timeout_s: float = param(4.0, "default Reach timeout, robot time", unit="s", low=0.1, high=60.0)


@dataclasses.dataclass(frozen=True)
class WalkToParams:
    """Defaults and limits of wbc/walk_to goals (parameters walk_to.*)."""

    position_tolerance_m: float = param(0.1, "default WalkTo position tolerance", unit="m", low=0.01, high=1.0)
    yaw_tolerance_deg: float = param(10.0, "default WalkTo heading tolerance", unit="deg", low=1.0, high=180.0)
    timeout_s: float = param(60.0, "default WalkTo timeout, robot time", unit="s", low=1.0, high=600.0)
    max_distance_m: float = param(
        10.0, "WalkTo targets further than this are unreachable: send nearer waypoints", unit="m", low=0.1, high=100.0
    )


@dataclasses.dataclass
class RunningWalkTo:
    handle: object  # rclpy ServerGoalHandle
    progress: WalkToProgress
    done: GoalResult
    last_error: tuple[float, float] = (math.nan, math.nan)


@dataclasses.dataclass
class RunningReach:
    handle: object  # rclpy ServerGoalHandle
    request: ReachRequest
    progress: ReachProgress
    done: GoalResult
    last_error: tuple[float, float] = (math.nan, math.nan)


@dataclasses.dataclass
class RunningFollow:
    handle: object  # rclpy ServerGoalHandle
    done: GoalResult
    duration_s: float  # the trajectory's [s]


class WbcNode(Node):
    """Whole-body control of the 38 body joints through hardware/joint_commands."""

    PARAMS = (
        (WbcParams, ""),
        (ReachParams, "reach."),
        (WbcSettings, ""),
        (WalkSettings, "walk."),
        (WalkToParams, "walk_to."),
    )

    def __init__(self, node_name: str = "wbc", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        # The controller's clock is the hardware's: every tick, target check, timeout and stamp
        # uses the stamps of the state it receives.
        on_robot_clock(self)
        self._declare_parameters()
        self.lock = threading.RLock()
        self.robot: RobotModel | None = None
        self.controller = None
        self.checker: ReachabilityChecker | None = None
        self.body_names: list[str] = []
        self._index: np.ndarray | None = None
        self._index_names: tuple[str, ...] = ()
        self.imu: Imu | None = None
        self.wrenches: dict = {side: None for side in SIDES}
        self.safety: SafetyState | None = None
        self.robot_now = 0.0  # stamp of the latest joint_states: the robot's clock [s]
        self.last_joint_states_wall = 0.0
        self.active = False
        self.inactive_reason = "no robot_description yet"
        self.failure = ""  # a tick failed: latched until safety/state leaves ACTIVE
        self.authority = Authority()
        self.reaches: dict[str, RunningReach] = {}
        self.follows: dict[str, RunningFollow] = {}  # wbc/follow_arm_trajectory goals per arm
        self.walk_to: RunningWalkTo | None = None
        self.targets_rejected = 0
        self.last_rejection = ""
        self.tick_us = 0.0
        self.qp_us = 0.0
        self._last_sample_s = -math.inf  # stamp of the last state sample ticked on [s, robot time]
        self.margin_m = math.nan
        self.ticks = 0
        self.paused_since: float | None = None  # robot time the ticks paused on a lagging stream
        self.paused_reason = ""
        self.reset_state = "pending" if not self.require_safety else "not used"
        self.hardware_valid_from = math.inf
        self._status_key = None
        self.cmd_vel_at: float | None = None  # robot time of the last accepted cmd_vel [s]
        self._cmd_writer: JointStateWriter | None = None  # hardware/joint_commands, written as bytes

        self.pub_cmd = None  # created once the controller exists: a supervisor waits for it (`commanders`)
        self.pub_status = self.create_publisher(WbcStatus, "wbc/status", qos.STATUS)
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        # The control loop's inputs: read by its own thread (see the module docstring).
        self.inputs: list[DirectSubscription] = []
        if self.state_input == "robot_state":
            self.state_in = DirectSubscription(self, RobotState, "hardware/robot_state", qos.NEWEST)
            self.state_reader = RobotStateReader()
            self.inputs = [self.state_in]
        else:
            self.state_in = DirectSubscription(self, JointState, "joint_states", qos.NEWEST)
            self.imu_in = DirectSubscription(self, Imu, "imu/data", qos.NEWEST)
            self.wrenches_in = {
                side: DirectSubscription(self, WrenchStamped, f"feet/{side}/wrench", qos.NEWEST) for side in SIDES
            }
            self.inputs = [self.state_in, self.imu_in, *self.wrenches_in.values()]
        # read by the control loop before each tick: a busy executor (the description being built,
        # a resumed SIGSTOP) never leaves the gate on a stale ACTIVE
        self.safety_in = DirectSubscription(self, SafetyState, "safety/state", qos.LATCHED)
        self.inputs.append(self.safety_in)
        if not self.require_safety:  # with a supervisor, safety/state says when to stop
            self.create_subscription(HardwareState, "hardware/state", self._on_hardware_state, qos.STATUS)
        for side in SIDES:
            self.create_subscription(
                PoseStamped, f"wbc/targets/{side}_hand", lambda m, s=side: self._on_hand_target(s, m), qos.EVENTS
            )
        self.create_subscription(PointStamped, "wbc/targets/gaze", self._on_gaze_target, qos.EVENTS)
        self.create_subscription(PoseStamped, "wbc/targets/torso", self._on_torso_target, qos.EVENTS)
        self.create_subscription(TwistStamped, "cmd_vel", self._on_cmd_vel, qos.EVENTS)
        self.reset_client = self.create_client(Trigger, "hardware/reset") if not self.require_safety else None
        # every goal is accepted, then checked: a bad one ends at once with REJECTED and the reason
        self.reach_server = self._action_server(Reach, "wbc/reach", self._execute_reach)
        self.walk_to_server = self._action_server(WalkTo, "wbc/walk_to", self._execute_walk_to)
        self.follow_server = self._action_server(FollowArmTrajectory, "wbc/follow_arm_trajectory", self._execute_follow)
        self.create_timer(1.0 / self.status_rate, self._on_status_timer)
        # the control thread completes Reach goals (GoalResult wakes the executor to send the result)
        self._executor_wake = GoalResult.waker(self)
        self._running = True
        self._waiter = InputWaiter(self, [self.state_in])
        self._control_thread = threading.Thread(target=self._control_loop, name="wbc_control", daemon=True)
        self._control_thread.start()
        mode = "safety/state" if self.require_safety else "its own hardware/reset (no safety supervisor)"
        self.get_logger().info(f"wbc: pose {self.pose_name!r}, activation by {mode}; waiting for robot_description")

    def _action_server(self, action_type, name: str, execute) -> ActionServer:
        return ActionServer(
            self,
            action_type,
            name,
            execute_callback=execute,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=lambda _handle: CancelResponse.ACCEPT,
        )

    # --- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> None:
        p = declare_params(self, WbcParams, error=ControlConfigError)
        reach = declare_params(self, ReachParams, prefix="reach.", error=ControlConfigError)
        self.settings = declare_params(self, WbcSettings, error=ControlConfigError)  # the controller's, same names
        self.walk_settings = declare_params(self, WalkSettings, prefix="walk.", error=ControlConfigError)
        self.walk_to_params = declare_params(self, WalkToParams, prefix="walk_to.", error=ControlConfigError)
        self.cmd_vel_timeout = p.cmd_vel_timeout_s
        self.pose_name = p.pose
        self.require_safety = p.require_safety_state
        self.safety_timeout = p.safety_timeout_s
        self.state_input = p.state_input
        self.sensor_timeout = p.sensor_timeout_s
        self.limits = TargetLimits(p.target_max_age_s, p.target_max_future_s, p.target_max_distance_m)
        self.reach_defaults = ReachDefaults(
            reach.position_tolerance_m, math.radians(reach.orientation_tolerance_deg), reach.timeout_s
        )
        self.status_rate = p.status_rate_hz
        self.torso_limits = TorsoLimits()

    # --- robot and sensors --------------------------------------------------------------------------
    def _on_description(self, msg: String) -> None:
        if self.controller is not None:
            return  # the description does not change under a running controller
        try:
            robot = RobotModel.from_urdf(msg.data)
            controller, _ = build_controller(robot, self.pose_name, self.settings, self.walk_settings)
        except (DescriptionError, ControlError) as exc:
            self.inactive_reason = f"cannot control this robot: {exc}"
            self.get_logger().error(self.inactive_reason)
            return
        with self.lock:
            self.robot, self.controller = robot, controller
            self.checker = ReachabilityChecker(controller.m)
            self.body_names = list(controller.m.joint_names)
            self._cmd_writer = JointStateWriter(self.body_names)
            solve = controller.qp.solve

            def timed_solve(*args, **kwargs):  # the solver's share of the tick, for wbc/status
                t0 = time.perf_counter()
                try:
                    return solve(*args, **kwargs)
                finally:
                    self.qp_us = (time.perf_counter() - t0) * 1e6

            controller.qp.solve = timed_solve
            self.pub_cmd = self.create_publisher(JointState, "hardware/joint_commands", qos.COMMANDS)
            self.inactive_reason = "waiting for joint_states"
        self.get_logger().info(
            f"wbc: {len(self.body_names)} body joints of {robot.name}, mass {controller.m.mass_kg:.1f} kg"
        )

    def _control_loop(self) -> None:
        """One tick per state sample (the newest: a tick on an old one would send a stale command)."""
        pin_loop_thread()  # on the deployment's `cpus`, if any (the process's other threads float)
        while self._running:
            if not self._waiter.wait(0.1):
                self._take_safety()
                continue
            self._take_safety()
            msg = self._take_robot_state() if self.state_input == "robot_state" else self.state_in.take_newest()
            if msg is None or self._too_soon(msg):
                continue
            if self.state_input == "topics":  # the newest imu/data and wrenches, published just before
                self.imu = self.imu_in.take_newest() or self.imu
                for side, sub in self.wrenches_in.items():
                    self.wrenches[side] = sub.take_newest() or self.wrenches[side]
            try:
                self._on_state(msg)
            except Exception as exc:  # never die silently: the hardware holds on its timeout
                if self._running and self.context.ok():
                    self.get_logger().fatal(f"wbc control loop stopped: {exc!r}")
                raise

    def _too_soon(self, msg) -> bool:
        """A sample less than 0.75 of a period (rate_hz) after the last one ticked on: skipped, so
        the controller runs at rate_hz on a faster hardware (a 250 Hz WBC on a 500 Hz stream).
        A stamp going back (a reset of the sim's clock) is never too soon."""
        stamp = msg.stamp_s if isinstance(msg, RobotStateSample) else stamp_s(msg.header.stamp)
        if 0.0 <= stamp - self._last_sample_s < 0.75 / self.settings.rate_hz:
            return True
        self._last_sample_s = stamp
        return False

    def _take_safety(self) -> None:
        """Every safety/state that arrived since the last tick, in order."""
        for msg in self.safety_in.take_all():
            self._on_safety(msg)

    def _on_safety(self, msg: SafetyState) -> None:
        with self.lock:
            was_active = self.safety is not None and self.safety.mode == SafetyState.ACTIVE
            self.safety = msg
            if was_active and msg.mode != SafetyState.ACTIVE:
                self.failure = ""  # the supervisor took over; a new ACTIVE starts afresh
                self._deactivate(self._gate())
            self._publish_status_if_changed()

    def _on_hardware_state(self, msg: HardwareState) -> None:
        """Without a supervisor the node itself stops when the hardware latches the body."""
        if self.require_safety or stamp_s(msg.header.stamp) < self.hardware_valid_from:
            return
        reasons = [*msg.reasons, *[""] * len(msg.groups)]  # (a short or long array never raises here)
        states = dict(zip(msg.groups, zip(msg.stop_states, reasons, strict=False), strict=False))
        if "body" not in states:
            return
        stop_state, reason = states["body"]
        if stop_state != HardwareState.ACTIVE and self.reset_state == "done":
            state = {HardwareState.HOLD: "HOLD", HardwareState.DAMP: "DAMP"}.get(stop_state, "?")
            with self.lock:
                self.reset_state = "latched"
                self.failure = f"hardware body {state}: {reason}"
                self.get_logger().error(f"{self.failure}; stopped (no supervisor: restart the node after a reset)")
                self._deactivate(self.failure)

    # --- the control loop -------------------------------------------------------------------------
    def _gate(self) -> str:
        """Why the controller must not command the body now ("" = it may)."""
        if self.controller is None:
            return self.inactive_reason
        if self.failure:
            then = "until safety/state leaves ACTIVE" if self.require_safety else "restart the node"
            return f"{self.failure} (stopped; {then})"
        if self.require_safety:
            if self.safety is None:
                return (
                    "no safety/state yet (safety supervisor running? require_safety_state:=false to bring up without)"
                )
            if self.safety.mode != SafetyState.ACTIVE:
                why = f": {self.safety.reason}" if self.safety.reason else ""
                return f"safety/state is {self.safety.mode_name or self.safety.mode}{why}"
        elif self.reset_state != "done":
            return "waiting for hardware/reset (no safety supervisor)"
        return ""

    def _take_robot_state(self) -> RobotStateSample | RobotState | None:
        """The newest hardware/robot_state, read from its bytes (forma_common.state_cdr: a sixth of the
        cost of rclpy's message); a message that reader cannot parse goes through rclpy."""
        data = self.state_in.take_newest_serialized()
        if data is None:
            return None
        try:
            return self.state_reader.read(data)
        except RobotStateFormatError as exc:
            self.get_logger().warning(f"hardware/robot_state read through rclpy: {exc}", once=True)
            return deserialize_message(data, RobotState)

    def _sensors(self, msg) -> Sensors:
        """Sensors from the state sample (RobotState, or JointState + the newest IMU and wrenches)."""
        if msg.name is not self._index_names and tuple(msg.name) != self._index_names:
            self._index = joint_indices(msg.name, self.body_names, self.state_in.topic_name)
            self._index_names = tuple(msg.name)
        if isinstance(msg, RobotStateSample):
            return sensors_from_robot_state_sample(msg, self._index)
        if self.state_input == "robot_state":
            return sensors_from_robot_state(msg, self._index)
        return sensors_from_messages(msg, self._index, self.imu, self.wrenches, self.sensor_timeout)

    def _on_state(self, msg) -> None:
        if isinstance(msg, RobotStateSample):
            stamp = Time(sec=msg.stamp_sec, nanosec=msg.stamp_nanosec)
        else:
            stamp = msg.header.stamp
        with self.lock:
            self.robot_now = stamp_s(stamp)
            self.last_joint_states_wall = time.monotonic()
            self._check_supervisor()
            reason = self._gate()
            sensors = None
            if not reason or reason.startswith("waiting for hardware/reset"):
                try:
                    sensors = self._sensors(msg)
                except SensorsNotReady as exc:
                    reason = str(exc)
                    if self.active and self._pause(reason):
                        return
            if reason:
                if sensors is not None and self.reset_state == "pending":
                    self._request_reset()
                self._deactivate(reason)
                self._publish_status_if_changed()
                return
            if self.paused_since is not None:
                pause_s = self.robot_now - self.paused_since
                self.get_logger().info(f"wbc resumes after a {pause_s:.3f} s pause", throttle_duration_sec=1.0)
                self.paused_since, self.paused_reason = None, ""
            try:
                if not self.active:
                    self.controller.activate(sensors)  # from the measured pose: never lunges
                    self.authority.reset()
                    self.active = True
                    self.get_logger().info(
                        "wbc active: commanding the body from the measured pose", throttle_duration_sec=1.0
                    )
                t0 = time.perf_counter()
                out = self.controller.tick(sensors)
                self.tick_us = (time.perf_counter() - t0) * 1e6
                problem = output_problem(out.position, out.velocity, out.effort)
                if problem:
                    raise ControlError(problem)
            except Exception as exc:  # QP failure or anything else: stop; the hardware holds
                self.failure = f"controller failed: {type(exc).__name__}: {exc}"
                self.get_logger().error(f"{self.failure}; stopped commanding (the hardware holds on its timeout)")
                self._deactivate(self.failure)
                self._publish_status_if_changed()
                return
            # stamped with the period it answers, to the nanosecond; bytes: a sixth of rclpy's cost
            self.pub_cmd.publish(
                self._cmd_writer.write(stamp.sec, stamp.nanosec, out.position, out.velocity, out.effort)
            )
            self.margin_m = out.capture_point_margin_m
            self.ticks += 1
            self._follow_walk()
            if self.reaches and self.ticks % 5 == 0:
                self._follow_reaches()
            if self.follows and self.ticks % 5 == 0:
                self._follow_arm_trajectories()
            self._publish_status_if_changed()

    def _check_supervisor(self) -> None:
        """A supervisor that went silent while ACTIVE (killed, stalled) watches for no fall: stop,
        latched until safety/state reports another mode (a respawned supervisor starts in DAMPING, a
        resumed one reports the hardware's HOLD), so that the body is commanded again only after its
        start ramp. The hardware holds on its command timeout meanwhile."""
        if not self.require_safety or not self.active or self.failure or self.safety is None:
            return
        age = self.robot_now - stamp_s(self.safety.header.stamp)  # (negative after a sim/reset)
        if self.safety.mode == SafetyState.ACTIVE and age > self.safety_timeout:
            self.failure = f"safety/state silent for {age:.2f} s of robot time (supervisor gone or stalled)"
            self.get_logger().error(f"{self.failure}; stopped commanding (the hardware holds on its timeout)")

    def _pause(self, reason: str) -> bool:
        """A stream lags: skip ticks (nothing is sent) but stay engaged for up to MAX_PAUSE_S of
        robot time, so a loaded machine's hiccup does not restart the controller and end goals.
        The reference does not move meanwhile, so resuming cannot lunge. Longer: disengage (the
        hardware holds by then; the next activation starts from the measured pose)."""
        if self.paused_since is None:
            self.paused_since = self.robot_now
        if self.robot_now - self.paused_since > MAX_PAUSE_S:
            self.paused_since, self.paused_reason = None, ""
            return False
        if reason != self.paused_reason:
            self.get_logger().info(f"wbc paused (no command sent): {reason}", throttle_duration_sec=1.0)
        self.paused_reason = reason
        self._publish_status_if_changed()
        return True

    def _request_reset(self) -> None:
        """No supervisor: reset the hardware out of its start hold, once; activation follows."""
        if not self.reset_client.service_is_ready():
            return
        self.reset_state = "requested"
        self.get_logger().info("no safety supervisor (require_safety_state false): calling hardware/reset")
        self.reset_client.call_async(Trigger.Request()).add_done_callback(self._on_reset_done)

    def _on_reset_done(self, future) -> None:
        result = future.result()
        with self.lock:
            if result is not None and result.success:
                self.reset_state = "done"
                # hardware/state stamped just after the reset may still describe the time before it
                self.hardware_valid_from = self.robot_now + 0.1
                self.get_logger().info(f"hardware reset: {result.message}; activating")
            else:
                self.reset_state = "latched"
                self.failure = f"hardware/reset refused: {result.message if result else 'no answer'}"
                self.get_logger().error(self.failure)

    def _deactivate(self, reason: str) -> None:
        if reason != self.inactive_reason and reason:
            if self.active:  # (one call site per severity: rclpy's throttled loggers demand it)
                self.get_logger().warning(f"wbc stopped commanding: {reason}", throttle_duration_sec=1.0)
            else:
                self.get_logger().info(f"wbc inactive: {reason}", throttle_duration_sec=2.0)
        self.inactive_reason = reason
        self.paused_since, self.paused_reason = None, ""
        if not self.active:
            return
        self.active = False
        for side in list(self.reaches):
            self._finish_reach(side, Reach.Result.CANCELED, f"wbc stopped: {reason}")
        if self.follows:
            self.controller.stop_arm_trajectories(FollowOutcome.CONTROLLER_STOPPED, f"wbc stopped: {reason}")
            self._follow_arm_trajectories()
        if self.walk_to is not None:
            fell = "fall" in reason or "FAULT" in reason
            self._finish_walk_to(WalkTo.Result.FELL if fell else WalkTo.Result.CANCELED, f"wbc stopped: {reason}")
        self.authority.reset()

    # --- targets ----------------------------------------------------------------------------------
    def _reject(self, source: str, reason: str) -> None:
        self.targets_rejected += 1
        self.last_rejection = f"{source}: {reason}"
        self.get_logger().warning(f"target refused, nothing changed: {self.last_rejection}", throttle_duration_sec=1.0)
        self._publish_status_if_changed()

    def _frame_in_odom(self, frame_id: str):
        bare = frame_id.removeprefix(self.robot.prefix)
        if bare == "odom":
            return pin.SE3.Identity()
        return self.controller.measured_pose(bare)

    def _target_in_odom(self, target):
        """check_target, then into odom with the measured pose of the target's frame."""
        if not self.active:
            raise TargetRejected(f"wbc is not active ({self.inactive_reason})")
        checked = check_target(target, self.robot_now, self.limits, self.robot.prefix)
        return to_odom(
            checked, self._frame_in_odom(checked.frame_id), self.controller.measured_pose("base_link"), self.limits
        )

    def _check_reachable(self, side: str, pose, position_tolerance_m: float, orientation_tolerance_rad: float):
        return self.checker.check(side, pose, self.controller.q_ref, position_tolerance_m, orientation_tolerance_rad)

    def _on_hand_target(self, side: str, msg: PoseStamped) -> None:
        topic = f"wbc/targets/{side}_hand"
        with self.lock:
            try:
                pose = self._target_in_odom(pose_target(msg))
                d = self.reach_defaults
                reach = self._check_reachable(side, pose, d.position_tolerance_m, d.orientation_tolerance_rad)
                if not reach.reachable:
                    raise TargetRejected(f"unreachable: {reach.reason}")
            except TargetRejected as exc:
                self._reject(topic, str(exc))
                return
            group = HAND_GROUP[side]
            if side in self.reaches:
                self.get_logger().warning(f"{group}: teleop target pre-empts the running reach goal")
                self._finish_reach(side, Reach.Result.CANCELED, "pre-empted by teleop")
            self._preempt_follow(side, "teleop")
            self.authority.take(group, "teleop")
            self.controller.set_hand_target(side, pose)
            self._publish_status_if_changed()

    def _on_gaze_target(self, msg: PointStamped) -> None:
        with self.lock:
            try:
                point = self._target_in_odom(point_target(msg)).translation
                goal = gaze_goal(point, self.controller.measured_pose("head_camera_color_optical_frame"))
            except TargetRejected as exc:
                self._reject("wbc/targets/gaze", str(exc))
                return
            self.authority.take("gaze", "teleop")
            self.controller.targets.gaze_point = goal
            self._publish_status_if_changed()

    def _on_torso_target(self, msg: PoseStamped) -> None:
        with self.lock:
            try:
                pose = self._target_in_odom(pose_target(msg))
                torso = self.controller.reference_pose("torso").translation[2]
                pelvis = self.controller.reference_pose("base_link").translation[2]
                rotation, height = torso_goal(pose, self.controller.pelvis_height, torso - pelvis, self.torso_limits)
            except TargetRejected as exc:
                self._reject("wbc/targets/torso", str(exc))
                return
            self.authority.take("torso", "teleop")
            self.controller.set_torso_goal(rotation, height)
            self._publish_status_if_changed()

    # --- walking ----------------------------------------------------------------------------------
    def _on_cmd_vel(self, msg: TwistStamped) -> None:
        """Walk at the commanded velocity (clamped to the gait's limits, said on wbc/status); a bad
        command is refused and the robot stops in place (within two steps)."""
        with self.lock:
            try:
                if not self.active:
                    raise TargetRejected(f"wbc is not active ({self.inactive_reason})")
                velocity = walk_velocity(msg, self.robot_now, self.cmd_vel_timeout, self.robot.prefix)
            except TargetRejected as exc:
                if self.controller is not None and self.controller.walking:
                    self.controller.walk(np.zeros(3))
                    self._reject("cmd_vel", f"{exc}; stopping in place")
                else:
                    self._reject("cmd_vel", str(exc))
                return
            if self.walk_to is not None:
                self._finish_walk_to(WalkTo.Result.CANCELED, "pre-empted by cmd_vel")
            clamped = self.controller.walk(velocity)
            if clamped:
                self.last_rejection = f"cmd_vel: {clamped} (the gait's limits, walk.* parameters)"
                self.get_logger().warning(self.last_rejection, throttle_duration_sec=2.0)
            self.cmd_vel_at = self.robot_now
            if self.controller.walking:
                self.authority.take("legs", "cmd_vel")
            self._publish_status_if_changed()

    def _follow_walk(self) -> None:
        """After a tick: cmd_vel gone quiet stops the walk; standing again gives the legs back."""
        c = self.controller
        if self.walk_to is not None:
            if self.ticks % 5 == 0:
                self._follow_walk_to()
            return
        if c.walking and np.any(c.walk_command) and self.robot_now - (self.cmd_vel_at or 0.0) > self.cmd_vel_timeout:
            c.walk(np.zeros(3))
            self.get_logger().warning(
                f"no cmd_vel for {self.cmd_vel_timeout} s while walking: stopping in place", throttle_duration_sec=2.0
            )
        if not c.walking and self.authority.owners["legs"] == "cmd_vel":
            self.authority.release("legs", "cmd_vel")

    # --- the WalkTo action ------------------------------------------------------------------------
    async def _execute_walk_to(self, handle):
        with self.lock:
            result = self._start_walk_to(handle)
            if result is None:
                done = self.walk_to.done
        if result is None:
            result = await done
        return _close_goal(handle, result, WalkTo.Result.ARRIVED, WalkTo.Result.CANCELED)

    def _start_walk_to(self, handle) -> WalkTo.Result | None:
        """Check and start a goal; a Result if it ends at once (REJECTED / UNREACHABLE)."""
        p = self.walk_to_params
        try:
            if not self.active:
                raise TargetRejected(f"wbc is not active ({self.inactive_reason})")
            goal = walk_to_goal(
                handle.request,
                self.robot_now,
                (p.position_tolerance_m, math.radians(p.yaw_tolerance_deg), p.timeout_s),
                self.robot.prefix,
            )
        except TargetRejected as exc:
            self._reject("wbc/walk_to", str(exc))
            return WalkTo.Result(outcome=WalkTo.Result.REJECTED, reason=str(exc), position_error_m=math.nan)
        progress = WalkToProgress(goal, self.walk_settings, self.robot_now)
        distance, yaw_error, _ = progress.errors(self.controller.measured_floor_pose())
        if distance > p.max_distance_m:
            reason = f"{distance:.1f} m away, beyond walk_to.max_distance_m {p.max_distance_m:g}: send nearer waypoints"
            return WalkTo.Result(
                outcome=WalkTo.Result.UNREACHABLE, reason=reason, position_error_m=distance, yaw_error_rad=yaw_error
            )
        if self.walk_to is not None:
            self._finish_walk_to(WalkTo.Result.CANCELED, "pre-empted by a new walk_to goal")
        self.walk_to = RunningWalkTo(handle, progress, GoalResult(self._executor_wake), (distance, yaw_error))
        self.authority.take("legs", "walk_to")
        self.get_logger().info(f"wbc/walk_to: {distance:.2f} m and {math.degrees(yaw_error):.0f} deg to go")
        self._publish_status_if_changed()
        return None

    def _follow_walk_to(self) -> None:
        """From the control loop: the next velocity command, feedback, ends."""
        running = self.walk_to
        if running.handle.is_cancel_requested:
            self._finish_walk_to(WalkTo.Result.CANCELED, "canceled by the client; the robot stops in place")
            return
        state, command, distance, yaw_error = running.progress.update(
            self.controller.measured_floor_pose(), self.robot_now, standing=not self.controller.walking
        )
        running.last_error = (distance, yaw_error)
        steps = self.controller.gait.steps if self.controller.gait is not None else 0
        running.handle.publish_feedback(WalkTo.Feedback(distance_remaining_m=distance, steps_taken=steps))
        if state == "walking":
            self.controller.walk(command)
        elif state == "arrived":
            self._finish_walk_to(WalkTo.Result.ARRIVED, "arrived")
        elif state == "timeout":
            self._finish_walk_to(WalkTo.Result.TIMEOUT, "not there in time; the robot stops in place")
        else:
            self._finish_walk_to(
                WalkTo.Result.UNREACHABLE, f"no progress for {STALL_S:g} s (blocked?); the robot stops in place"
            )

    def _finish_walk_to(self, outcome: int, reason: str) -> None:
        running, self.walk_to = self.walk_to, None
        if self.controller is not None and self.active and self.controller.walking:
            self.controller.walk(np.zeros(3))
        distance, yaw_error = running.last_error
        self.authority.release("legs", "walk_to")
        summary = f"wbc/walk_to: {reason} ({distance:.2f} m, {math.degrees(yaw_error):.1f} deg)"
        if outcome == WalkTo.Result.ARRIVED:  # (one call site per severity: rclpy's loggers demand it)
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        running.done.finish(
            WalkTo.Result(outcome=outcome, position_error_m=distance, yaw_error_rad=yaw_error, reason=reason)
        )
        self._publish_status_if_changed()

    # --- the Reach action ---------------------------------------------------------------------------
    async def _execute_reach(self, handle):
        with self.lock:
            result = self._start_reach(handle)
            if result is None:
                done = self.reaches[handle.request.hand].done
        if result is None:
            result = await done
        return _close_goal(handle, result, Reach.Result.REACHED, Reach.Result.CANCELED)

    def _start_reach(self, handle) -> Reach.Result | None:
        """Check and start a goal; a Result if it ends at once (REJECTED / UNREACHABLE)."""
        try:
            request = reach_request(handle.request, self.robot_now, self.reach_defaults)
            goal = self._target_in_odom(request.target)
        except TargetRejected as exc:
            self._reject("wbc/reach", str(exc))
            return Reach.Result(outcome=Reach.Result.REJECTED, reason=str(exc), distance_m=math.nan)
        side = request.side
        palm = self.controller.measured_pose(HANDS[side])
        distance, angle = pose_error(goal, palm)
        reach = self._check_reachable(side, goal, request.position_tolerance_m, request.orientation_tolerance_rad)
        if not reach.reachable:
            self.get_logger().warning(f"wbc/reach {side}: unreachable: {reach.reason}")
            return Reach.Result(
                outcome=Reach.Result.UNREACHABLE, distance_m=distance, orientation_error_rad=angle, reason=reach.reason
            )
        if side in self.reaches:
            self._finish_reach(side, Reach.Result.CANCELED, "pre-empted by a new reach goal")
        self._preempt_follow(side, "a reach goal")
        group = HAND_GROUP[side]
        previous = self.authority.take(group, "reach")
        if previous == "teleop":
            self.get_logger().info(f"{group}: the reach goal takes over from teleop")
        progress = ReachProgress(
            side,
            goal,
            request.position_tolerance_m,
            request.orientation_tolerance_rad,
            self.robot_now + request.timeout_s,
        )
        self.reaches[side] = RunningReach(handle, request, progress, GoalResult(self._executor_wake), (distance, angle))
        self.controller.set_hand_target(side, goal, request.max_speed_m_s)
        self.get_logger().info(
            f"wbc/reach {side}: {distance * 100:.1f} cm to go, tolerance {request.position_tolerance_m * 100:.1f} cm, "
            f"timeout {request.timeout_s:.1f} s"
        )
        self._publish_status_if_changed()
        return None

    def _follow_reaches(self) -> None:
        """From the control loop: progress on the measured palm, feedback, ends."""
        for side, running in list(self.reaches.items()):
            if running.handle.is_cancel_requested:
                self._finish_reach(side, Reach.Result.CANCELED, "canceled by the client; the hand holds where it is")
                continue
            palm = self.controller.measured_pose(HANDS[side])
            state, distance, angle = running.progress.update(palm, self.robot_now)
            running.last_error = (distance, angle)
            running.handle.publish_feedback(Reach.Feedback(position_error_m=distance, orientation_error_rad=angle))
            if state == "reached":
                self._finish_reach(side, Reach.Result.REACHED, "reached")
            elif state == "timeout":
                self._finish_reach(
                    side,
                    Reach.Result.TIMEOUT,
                    f"not within {running.request.position_tolerance_m * 100:.1f} cm / "
                    f"{math.degrees(running.request.orientation_tolerance_rad):.1f} deg after "
                    f"{running.request.timeout_s:g} s; the hand holds where it is",
                )

    def _finish_reach(self, side: str, outcome: int, reason: str) -> None:
        running = self.reaches.pop(side)
        distance, angle = running.last_error
        if outcome != Reach.Result.REACHED and self.controller is not None and self.active:
            self.controller.set_hand_target(side, None)  # hold where the hand is commanded now
        self.authority.release(HAND_GROUP[side], "reach")
        summary = f"wbc/reach {side}: {reason} ({distance * 100:.1f} cm, {math.degrees(angle):.1f} deg)"
        if outcome == Reach.Result.REACHED:
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        running.done.finish(
            Reach.Result(outcome=outcome, distance_m=distance, orientation_error_rad=angle, reason=reason)
        )
        self._publish_status_if_changed()

    # --- the FollowArmTrajectory action ---------------------------------------------------------------
    async def _execute_follow(self, handle):
        with self.lock:
            result, side = self._start_follow(handle)
            if result is None:
                done = self.follows[side].done
        if result is None:
            result = await done
        return _close_goal(handle, result, FollowArmTrajectory.Result.SUCCEEDED, FollowArmTrajectory.Result.CANCELED)

    def _start_follow(self, handle) -> tuple[FollowArmTrajectory.Result | None, str]:
        """Check and start a goal: (a REJECTED Result, "") if refused, else (None, the arm's side)."""
        try:
            if not self.active:
                raise TargetRejected(f"wbc is not active ({self.inactive_reason})")
            request = arm_trajectory_request(handle.request, self.robot_now)
            hand_goal = None if request.hand_goal is None else self._target_in_odom(request.hand_goal)
            self._follow_arm_trajectories()  # goals whose trajectory ended: finished first
            running = dict(self.controller.arm_followers)  # the side is known only once it is accepted
            side = self.controller.follow_arm_trajectory(request.trajectory, request.tolerances, hand_goal)
        except TargetRejected as exc:
            self._reject("wbc/follow_arm_trajectory", str(exc))
            return FollowArmTrajectory.Result(outcome=FollowArmTrajectory.Result.REJECTED, reason=str(exc)), ""
        if side in self.follows:  # (the controller replaced it: its goal ends now)
            replaced = running[side][0].status
            self._finish_follow(side, replaced.outcome, "replaced by a newer trajectory", replaced)
        if side in self.reaches:
            self._finish_reach(side, Reach.Result.CANCELED, "pre-empted by an arm trajectory")
        group = HAND_GROUP[side]
        previous = self.authority.take(group, "trajectory")
        if previous == "teleop":
            self.get_logger().info(f"{group}: the arm trajectory takes over from teleop")
        duration = request.trajectory.duration_s
        self.follows[side] = RunningFollow(handle, GoalResult(self._executor_wake), duration)
        self.get_logger().info(
            f"wbc/follow_arm_trajectory {side}: {len(request.trajectory.time_s)} points over {duration:.2f} s"
            + (", then the palm to its goal" if hand_goal is not None else "")
        )
        self._publish_status_if_changed()
        return None, side

    def _preempt_follow(self, side: str, by: str) -> None:
        """A reach goal or teleop takes the hand: the running trajectory stops where it is."""
        if side in self.follows:
            self.get_logger().warning(f"{HAND_GROUP[side]}: {by} pre-empts the running arm trajectory")
            self.controller.cancel_arm_trajectory(side, f"pre-empted by {by}")
            self._follow_arm_trajectories()

    def _follow_arm_trajectories(self) -> None:
        """Feedback from the controller's followers, and the goals they ended (or the client cancelled)."""
        for side, running in list(self.follows.items()):
            status = self.controller.arm_trajectory_status(side) if self.controller is not None else None
            if status is None:  # (never started: cannot happen once accepted)
                continue
            if status.running and running.handle.is_cancel_requested:
                self.controller.cancel_arm_trajectory(side, "canceled by the client; the arm holds where it is")
                status = self.controller.arm_trajectory_status(side)
            if status.running:
                running.handle.publish_feedback(
                    FollowArmTrajectory.Feedback(time_from_start_s=status.elapsed_s, error_rad=status.error_rad)
                )
            else:
                self._finish_follow(side, status.outcome, status.reason, status)

    def _finish_follow(self, side: str, outcome: FollowOutcome, reason: str, status) -> None:
        running = self.follows.pop(side)
        self.authority.release(HAND_GROUP[side], "trajectory")
        summary = f"wbc/follow_arm_trajectory {side}: {outcome.value}: {reason}"
        if outcome is FollowOutcome.SUCCEEDED:  # (one call site per severity: rclpy's loggers demand it)
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        running.done.finish(
            FollowArmTrajectory.Result(
                outcome=getattr(FollowArmTrajectory.Result, FOLLOW_RESULT[outcome]),
                max_error_rad=float(status.max_error_rad),
                worst_joint=status.worst_joint,
                reason=reason,
            )
        )
        self._publish_status_if_changed()

    # --- status -------------------------------------------------------------------------------------
    def _on_status_timer(self) -> None:
        with self.lock:
            for side, running in list(self.reaches.items()):
                if running.handle.is_cancel_requested:  # also when no tick runs
                    self._finish_reach(
                        side, Reach.Result.CANCELED, "canceled by the client; the hand holds where it is"
                    )
            if self.follows and self.controller is not None:
                self._follow_arm_trajectories()
            self._publish_status()

    def _status_change_key(self) -> tuple:
        """What counts as a change for wbc/status (numbers in a reason, e.g. an age, do not)."""
        reason = self.inactive_reason + self.paused_reason
        if reason:  # (every tick asks: active, there is none)
            reason = re.sub(r"[0-9.]+", "#", reason)
        return (self.active, reason, tuple(self.authority.owners.values()), self.targets_rejected)

    def _publish_status_if_changed(self) -> None:
        if self._status_change_key() != self._status_key:
            self._publish_status()

    def _publish_status(self) -> None:
        self._status_key = self._status_change_key()
        groups, owners = self.authority.as_lists()
        # No joint_states = no ticks = no commands: say so, but leave the controller engaged. A
        # wall-clock gap is no reason to restart it (a sim in sim time stalls with its stream);
        # if the hardware held meanwhile, the supervisor leaves ACTIVE and that restarts it.
        silent_s = time.monotonic() - self.last_joint_states_wall if self.last_joint_states_wall else 0.0
        active = self.active and silent_s <= JOINT_STATES_SILENT_S and not self.paused_reason
        if not self.active:
            reason = self.inactive_reason
        elif self.paused_reason:
            reason = f"paused: {self.paused_reason}"
        else:
            reason = f"no joint_states for {silent_s:.2f} s (wall clock)"
        msg = WbcStatus(
            active=active,
            inactive_reason="" if active else reason,
            groups=groups,
            owners=owners,
            capture_point_margin_m=float(self.margin_m) if self.active else math.nan,
            tick_time_us=float(self.tick_us),
            qp_time_us=float(self.qp_us),
            targets_rejected=self.targets_rejected,
            last_rejection=self.last_rejection,
        )
        # Stamped with the robot time of the newest state read while the node could take the body on
        # an ACTIVE safety/state: its controller built and no failure latched; 0 otherwise. The safety
        # supervisor hands over only after a fresh one (seen: a WBC resumed from SIGSTOP, stopped on
        # the stale ACTIVE it read first, was handed the body 17 ms later and the hardware held again).
        ready = self.controller is not None and not self.failure
        msg.header.stamp = to_time_msg(self.robot_now if ready else 0.0)
        self.pub_status.publish(msg)

    def destroy_node(self) -> None:
        self._running = False
        self._waiter.wake()
        if self._control_thread is not threading.current_thread():
            self._control_thread.join(timeout=2.0)
        self._waiter.destroy()
        for sub in self.inputs:
            sub.destroy()
        super().destroy_node()


def _close_goal(handle, result, succeeded: int, canceled: int):
    """End an action goal by its result's outcome: succeeded, canceled (when the client asked), or
    aborted; returns the result."""
    if result.outcome == succeeded:
        handle.succeed()
    elif result.outcome == canceled and handle.is_cancel_requested:
        handle.canceled()
    else:
        handle.abort()
    return result


def main(args=None) -> None:
    """Run the wbc node alone: `ros2 run forma_control wbc_node`."""
    run_node(WbcNode, (ControlConfigError,), args)
