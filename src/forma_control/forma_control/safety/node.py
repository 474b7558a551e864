"""The safety supervisor node: wires forma_control.safety.supervisor (the mode state machine) and
forma_control.safety.fall_detection to ROS. See src/forma_control/README.md for modes, topics, services,
parameters and what each reason means.

The e-stop path is short on purpose: a safety/estop message or service call hands the e-stop to
hardware/estop inside its own callback, before anything else runs.

The supervisor steps in a thread of its own, once per joint_states sample (at most rate_hz), and
reads its other inputs there from direct subscriptions: the newest imu/data and feet wrenches and
every hardware/state since the last step (forma_common.loop; an executor wake-up per message or
per /clock cost this process 0.15-0.2 core on the 2-core machine). Its clock is the robot's: the
stamp of the newest joint_states (sim time in simulation), so it needs no /clock; every stamp it
publishes, every timeout and ramp uses that clock. When joint_states stops, the other streams'
stamps keep the clock going (every `silence` of wall time), so the silent stream is reported
stale; when every input stops, the robot's clock stops with them (a sim paused or stepped in
lockstep is not a fault) and diagnostics say for how long, in wall time.
"""

from __future__ import annotations

import array
import dataclasses
import math
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.loop import InputLoop, locked
from forma_common.messages import stamp_s, to_time_msg
from forma_common.node import declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_common.state_cdr import JointStateReader
from forma_control.errors import ControlError
from forma_control.safety.fall_detection import BalanceModel, BalanceSample, FallDetector, FallLimits
from forma_control.safety.supervisor import (
    DampHardware,
    EngageEStop,
    InputWatch,
    Mode,
    ReleaseEStop,
    ResetHardware,
    Supervisor,
    SupervisorConfig,
    hardware_view,
)
from forma_description import DescriptionError, RobotModel
from forma_description.poses import available_poses, named_pose
from forma_description.robot_model import GROUPS
from forma_interfaces.msg import HardwareState, SafetyState, WbcStatus
from forma_interfaces.srv import EStop, SetOperatingMode

INPUTS = ("joint_states", "imu/data", "feet/left/wrench", "feet/right/wrench")
RESET_WAIT_S = 2.0  # [s, robot time] a hardware/reset waits this long for the service to be discovered
DIAG_LEVEL = {
    Mode.DAMPING: DiagnosticStatus.OK,
    Mode.STANDING_UP: DiagnosticStatus.OK,
    Mode.ACTIVE: DiagnosticStatus.OK,
    Mode.HOLD: DiagnosticStatus.WARN,
    Mode.ESTOP: DiagnosticStatus.ERROR,
    Mode.FAULT: DiagnosticStatus.ERROR,
}


@dataclasses.dataclass(frozen=True)
class SupervisorParams:
    """The node's own parameters (the supervisor's are SupervisorConfig's, the fall detector's
    FallLimits', same names)."""

    pose: str = param("stand", "named pose (urdf/poses.yaml) the stand-up ramp goes to", choices=available_poses())
    groups: list[str] = param(
        ["body"], "command groups the supervisor ramps while STANDING_UP and whose HOLD it reports", choices=GROUPS
    )
    rate_hz: float = param(
        100.0,
        "supervisor step, at most (one per joint_states sample): ramp commands, fall detection, input watchdog",
        unit="Hz",
        low=1.0,
        high=1000.0,
    )
    commanders: list[str] = param(
        [""],
        "nodes that take over after the stand-up (e.g. wbc, hands): an automatic stand-up waits until each "
        "publishes hardware/joint_commands (they do once ready); empty = wait for none",
    )


class SupervisorNode(Node):
    """safety/state, safety/estop, safety/reset, safety/set_mode; fall detection; stand-up ramp."""

    PARAMS = (SupervisorParams, SupervisorConfig, FallLimits)

    def __init__(self, node_name: str = "safety_supervisor", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        on_robot_clock(self)  # (module docstring)
        p = declare_params(self, SupervisorParams, error=ControlError)
        self.config = declare_params(self, SupervisorConfig, error=ControlError)
        self.limits = declare_params(self, FallLimits, error=ControlError)
        self.rate = p.rate_hz
        self.groups = tuple(p.groups)
        if not self.groups:
            raise ControlError(f"parameter groups=[]: name at least one of {', '.join(GROUPS)}")
        self.commanders = sorted({c for c in p.commanders if c})
        self.missing_commanders: list[str] = list(self.commanders)
        self.pose_name = p.pose
        self.core: Supervisor | None = None
        self.detector: FallDetector | None = None
        self.index: np.ndarray | None = None
        self.early_estop: tuple[bool, str] | None = None  # an e-stop before the description arrived
        self.watch = InputWatch(INPUTS, self.config.input_timeout_s)
        self.js: JointState | None = None
        self.imu: Imu | None = None
        self.force_z = {"left": None, "right": None}
        self.armed_last = False
        self._cmd = JointState()
        self.lock = threading.RLock()  # the step's thread vs the executor's callbacks
        self.robot_now = 0.0  # the robot's clock: the newest joint_states stamp [s]
        self.last_input_wall = time.monotonic()  # when any sensor input last arrived (diagnostics)
        self.reset_wanted_since: float | None = None  # a hardware/reset waiting for its service [s]

        # The e-stop first: its clients and subscription exist before anything else.
        self.hw_estop = self.create_client(EStop, "hardware/estop")
        self.hw_reset = self.create_client(Trigger, "hardware/reset")
        self.create_subscription(Bool, "safety/estop", self._on_estop_topic, qos.EVENTS)
        self.create_service(EStop, "safety/estop", self._on_estop_service)
        self.create_service(Trigger, "safety/reset", self._on_reset)
        self.create_service(SetOperatingMode, "safety/set_mode", self._on_set_mode)
        self.pub_state = self.create_publisher(SafetyState, "safety/state", qos.LATCHED)
        self.pub_cmd = self.create_publisher(JointState, "hardware/joint_commands", qos.COMMANDS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "diagnostics", qos.SENSORS)
        self.hardware_state_in = DirectSubscription(self, HardwareState, "hardware/state", qos.POLLED)  # polled
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.walking = False  # wbc/status: the whole-body controller walks (legs owned by cmd_vel)
        self.wbc_seen_s = -math.inf  # robot time of the newest wbc/status from a WBC that could take the body
        self.create_subscription(WbcStatus, "wbc/status", self._on_wbc_status, qos.STATUS)
        # polled at each step (see the module docstring)
        self.joint_states_in = DirectSubscription(
            self, JointState, "joint_states", qos.NEWEST, parse=JointStateReader().read
        )
        self.imu_in = DirectSubscription(self, Imu, "imu/data", qos.NEWEST)
        self.wrenches_in = {
            side: DirectSubscription(self, WrenchStamped, f"feet/{side}/wrench", qos.NEWEST)
            for side in ("left", "right")
        }
        self.loop = InputLoop(
            self,
            self.joint_states_in,
            self._tick,
            self.lock,
            min_interval_s=0.9 / self.rate,  # a faster joint_states is read, stepped on at rate_hz
            silence_s=2.0 / self.rate,
            name="safety_step",
        )
        if self.commanders:
            self.create_timer(0.5, self._look_for_commanders)
        self.create_timer(0.1, self._publish_state)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            f"safety supervisor: groups {', '.join(self.groups)}, pose {self.pose_name!r}, "
            f"auto_stand {self.config.auto_stand}; waiting for robot_description"
        )
        self.loop.start()

    def _now(self) -> float:
        return self.robot_now

    def _look_for_commanders(self) -> None:
        """Which of `commanders` has no hardware/joint_commands publisher yet (from the graph)."""
        present = {info.node_name for info in self.get_publishers_info_by_topic(self.pub_cmd.topic_name)}
        missing = [c for c in self.commanders if c not in present]
        if missing != self.missing_commanders:
            self.get_logger().info(
                f"controllers up: {', '.join(c for c in self.commanders if c in present) or 'none'}"
                + (f"; waiting for {', '.join(missing)}" if missing else "")
            )
        with self.lock:
            self.missing_commanders = missing

    # --- set-up -----------------------------------------------------------------------------------
    @locked
    def _on_description(self, msg: String) -> None:
        if self.core is not None:
            return
        try:
            robot = RobotModel.from_urdf(msg.data)
            pose = named_pose(self.pose_name, robot)
            self.detector = FallDetector(BalanceModel(msg.data, robot.prefix), self.limits)
        except (DescriptionError, ControlError) as exc:
            self.get_logger().error(f"cannot supervise this robot: {exc}")
            return
        self.index = np.array([i for i, j in enumerate(robot.joints) if j.group in self.groups])
        names = [robot.joint_names[i] for i in self.index]
        limits = robot.limits_arrays()
        self.core = Supervisor(
            self.config,
            names,
            pose[self.index],
            limits["lower"][self.index],
            limits["upper"][self.index],
            self.groups,
            self._now(),
        )
        self._cmd.name = names
        self.joint_names = robot.joint_names
        if self.early_estop is not None:
            self.core.request_estop(*self.early_estop, self._now())
        self.get_logger().info(f"safety supervisor: {len(names)} joints supervised; mode {self.core.mode.name}")
        self._after()

    # --- inputs -------------------------------------------------------------------------------------
    def _take_inputs(self, joint_states_stamp_s: float | None) -> float:
        """Every hardware/state since the last step, in order, and the newest sample of each
        sensor stream; returns the robot's clock now (see the module docstring)."""
        now = self.robot_now
        if joint_states_stamp_s is not None:
            if joint_states_stamp_s < now:  # the clock went back (sim/reset): inputs seen now
                self.watch.restart(joint_states_stamp_s)
            now = joint_states_stamp_s
            self.js = self.loop.latest
            self.watch.seen("joint_states", now)
        newest = {"imu/data": self.imu_in.take_newest()}
        if newest["imu/data"] is not None:
            self.imu = newest["imu/data"]
        for side, sub in self.wrenches_in.items():
            newest[f"feet/{side}/wrench"] = msg = sub.take_newest()
            if msg is not None:
                self.force_z[side] = msg.wrench.force.z
        if joint_states_stamp_s is None:  # joint_states silent: the other streams' stamps are the clock
            now = max([now] + [stamp_s(m.header.stamp) for m in newest.values() if m is not None])
        for name, msg in newest.items():
            if msg is not None:
                self.watch.seen(name, now)
        if any(m is not None for m in newest.values()) or joint_states_stamp_s is not None:
            self.last_input_wall = time.monotonic()
        self.robot_now = now
        for msg in self.hardware_state_in.take_all():
            self._on_hardware_state(msg)
        return now

    def _on_hardware_state(self, msg: HardwareState) -> None:
        if self.core is None:
            return
        try:
            view = hardware_view(
                msg.groups, msg.stop_states, msg.reasons, msg.estop_engaged, stamp_s(msg.header.stamp), msg.causes
            )
        except ControlError as exc:  # another publisher on hardware/state, or a bug: the next one counts
            self.get_logger().warning(f"hardware/state ignored: {exc}", throttle_duration_sec=1.0)
            return
        self._execute(self.core.hardware_state(view, self._now()))
        self._after()

    # --- requests -----------------------------------------------------------------------------------
    def _estop(self, engage: bool, reason: str) -> tuple[bool, str]:
        if self.core is None:  # no description yet: the e-stop still goes down at once
            self.early_estop = (engage, reason)
            self._call_estop(engage, f"safety supervisor: e-stop: {reason}")
            return True, "e-stop handed to the hardware (supervisor still waiting for robot_description)"
        reply = self.core.request_estop(engage, reason, self._now())
        self._execute(reply.actions)
        self._after()
        return reply.success, reply.message

    @locked
    def _on_wbc_status(self, msg: WbcStatus) -> None:
        """A walking robot's capture point runs ahead of its stance foot: judged more widely then.
        Its stamp says the WBC is up to take the body (the core's controllers_seen): a WBC stamps its
        status with the robot time of the state it reads, 0 while it could not take the body (no
        controller yet, a failure latched)."""
        self.walking = msg.active and "cmd_vel" in msg.owners
        stamp = stamp_s(msg.header.stamp)
        if stamp > 0.0:
            self.wbc_seen_s = stamp

    def _on_estop_topic(self, msg: Bool) -> None:
        self._estop(bool(msg.data), "safety/estop topic")

    @locked
    def _on_estop_service(self, request: EStop.Request, response: EStop.Response) -> EStop.Response:
        response.success, response.message = self._estop(request.engage, request.reason or "safety/estop service")
        return response

    @locked
    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.core is None:
            response.success, response.message = False, "no robot_description yet: is the hardware node running?"
            return response
        reply = self.core.request_reset(self._now())
        self._execute(reply.actions)
        self._after()
        if not reply.success:
            self.get_logger().warning(f"safety/reset refused: {reply.message}")
        response.success, response.message = reply.success, reply.message
        return response

    @locked
    def _on_set_mode(self, request: SetOperatingMode.Request, response: SetOperatingMode.Response):
        if self.core is None:
            response.success, response.mode = False, int(Mode.DAMPING)
            response.message = "no robot_description yet: is the hardware node running?"
            return response
        reply = self.core.request_mode(request.mode, request.reason, self._now())
        self._execute(reply.actions)
        self._after()
        if not reply.success:
            self.get_logger().warning(f"safety/set_mode {request.mode} refused: {reply.message}")
        response.success, response.message, response.mode = reply.success, reply.message, int(reply.mode)
        return response

    # --- hardware services ----------------------------------------------------------------------------
    def _call_estop(self, engage: bool, reason: str, then=None) -> None:
        if not self.hw_estop.service_is_ready():
            self.get_logger().error(
                "hardware/estop is not available: is the hardware node running? (re-sent until it confirms)",
                throttle_duration_sec=1.0,
            )
            return
        future = self.hw_estop.call_async(EStop.Request(engage=engage, reason=reason))
        if then is not None:
            future.add_done_callback(lambda _: then())

    def _execute(self, actions) -> None:
        for action in actions:
            if isinstance(action, EngageEStop):
                self._call_estop(True, action.reason)
            elif isinstance(action, ReleaseEStop):
                self._call_estop(False, action.reason)
            elif isinstance(action, DampHardware):
                self._call_estop(True, action.reason, then=lambda r=action.reason: self._release_after_damp(r))
            elif isinstance(action, ResetHardware):
                self.reset_wanted_since = self._now()
                self._call_reset()

    def _call_reset(self) -> None:
        """hardware/reset, once the service is discovered: at start-up the hardware's topics can
        be seen a little before its services (measured: the automatic stand-up, asked for the
        moment the first joint_states came, found no hardware/reset and stayed DAMPING). Refused
        after RESET_WAIT_S of the robot's time without it."""
        if self.reset_wanted_since is None:
            return
        if self.hw_reset.service_is_ready():
            self.reset_wanted_since = None
            self.hw_reset.call_async(Trigger.Request()).add_done_callback(self._on_reset_done)
        elif self._now() - self.reset_wanted_since > RESET_WAIT_S:
            self.reset_wanted_since = None
            reason = f"hardware/reset is not available (waited {RESET_WAIT_S:.0f} s): is the hardware node running?"
            self._execute(self.core.reset_done(False, reason, self._now()))

    @locked
    def _release_after_damp(self, reason: str) -> None:
        # an e-stop or a fault meanwhile keeps the hardware's e-stop engaged
        if self.core is not None and self.core.mode == Mode.DAMPING:
            self._call_estop(False, reason)

    @locked
    def _on_reset_done(self, future) -> None:
        result = future.result()
        ok = result is not None and result.success
        message = result.message if result is not None else "no answer"
        self._execute(self.core.reset_done(ok, message, self._now()))
        self._after()

    # --- the step -----------------------------------------------------------------------------------
    def _tick(self, joint_states_stamp_s: float | None) -> None:
        """One step (InputLoop, under the lock): at a joint_states sample, or with its stamp None
        after the stream stayed silent (2 steps' worth of wall time)."""
        before = self.robot_now
        now = self._take_inputs(joint_states_stamp_s)
        self._call_reset()
        if self.core is None or now <= 0.0 or (joint_states_stamp_s is None and now <= before):
            return  # (every input silent: the robot's clock stands still, so does the supervisor)
        measured = fall = None
        upright = lying = False
        body_rate = 0.0
        unusable: list[str] = []  # input the fall detector cannot use: blind, so never a silent ACTIVE
        sample = self._sample(now)
        if sample is not None:
            armed = self.core.fall_detection_armed
            if armed and not self.armed_last:
                self.detector.reset()
            self.armed_last = armed
            try:
                if armed:
                    fall = self.detector.update(sample, stepping=self.walking)
                else:
                    self.detector.evaluate(sample)
                st = self.detector.last_state
                upright = st.tilt_rad < self.limits.tilt_limit_rad and len(st.loaded_feet) == 2
                body_rate = st.tilt_rate_rad_s
                lying = st.tilt_rad > self.limits.tilt_limit_rad
                q = np.asarray(self.js.position)
                measured = q[self._js_index] if self._js_index is not None else None
            except (ControlError, IndexError, ValueError) as exc:
                unusable.append(f"unusable: {exc}")
                self.get_logger().warning(f"sensor input unusable: {exc}", throttle_duration_sec=1.0)
        seen = {"wbc": self.wbc_seen_s} if "wbc" in self.commanders else None  # (the body's controller)
        actions, command = self.core.tick(
            now,
            measured,
            self.watch.stale(now) + unusable,
            fall,
            upright,
            self.missing_commanders,
            body_rate,
            lying,
            controllers_seen=seen,
        )
        self._execute(actions)
        if command is not None:
            self._cmd.header.stamp = to_time_msg(now)
            self._cmd.position = array.array("d", np.asarray(command.position, float).tobytes())
            self.pub_cmd.publish(self._cmd)
        self._after()

    _js_index: np.ndarray | None = None
    _js_names: list[str] | None = None

    def _sample(self, now: float) -> BalanceSample | None:
        if self.js is None or self.imu is None or None in self.force_z.values():
            return None
        if self._js_names != list(self.js.name):
            self._js_names = list(self.js.name)
            where = {n: i for i, n in enumerate(self._js_names)}
            try:
                self._js_index = np.array([where[n] for n in self._cmd.name])
            except KeyError:
                self._js_index = None
                self.get_logger().error("joint_states lacks supervised joints; check body/prefix", once=True)
        o, w = self.imu.orientation, self.imu.angular_velocity
        return BalanceSample(
            stamp_s=now,
            joint_names=self.js.name,
            joint_positions=self.js.position,
            joint_velocities=self.js.velocity,
            orientation_wxyz=(o.w, o.x, o.y, o.z),
            angular_velocity_imu=(w.x, w.y, w.z),
            foot_force_z_n=dict(self.force_z),
        )

    # --- outputs ------------------------------------------------------------------------------------
    def _after(self) -> None:
        if self.core is None:
            return
        log = self.get_logger()
        for tr in self.core.drain_transitions():
            text = f"safety: {tr.old.name} -> {tr.new.name}: {tr.reason}"
            if tr.new in (Mode.ESTOP, Mode.FAULT, Mode.HOLD):
                log.warning(text)
            else:
                log.info(text)
        if self.core.changed:
            self._publish_state()

    @locked
    def _publish_state(self) -> None:
        if self.core is None:
            return
        self.core.changed = False
        msg = SafetyState(
            mode=int(self.core.mode),
            mode_name=self.core.mode.name,
            reason=self.core.reason,
            cause=int(self.core.cause),
            estop_engaged=self.core.estop_engaged,
        )
        msg.header.stamp = to_time_msg(self.robot_now)
        self.pub_state.publish(msg)

    @locked
    def _publish_diagnostics(self) -> None:
        if self.core is None:
            return
        now = self._now()
        stale = self.watch.stale(now)
        st = self.detector.last_state
        values = [("mode", self.core.mode.name), ("fall_detection_armed", self.core.fall_detection_armed)]
        if st is not None:
            values += [
                ("tilt_deg", f"{math.degrees(st.tilt_rad):.1f}"),
                ("tilt_rate_rad_s", f"{st.tilt_rate_rad_s:.2f}"),
                ("capture_point_outside_m", f"{st.capture_outside_m:.3f}"),
                ("loaded_feet", ",".join(st.loaded_feet) or "none"),
            ]
        silent_wall_s = time.monotonic() - self.last_input_wall
        if silent_wall_s > self.config.input_timeout_s:  # the robot's clock stopped with its inputs
            stale = [f"no sensor input for {silent_wall_s:.1f} s (wall clock): is the hardware node running?"]
        name = self.get_name()
        statuses = [
            DiagnosticStatus(
                name=f"{name}: mode",
                hardware_id="safety",
                level=DIAG_LEVEL[self.core.mode],
                message=f"{self.core.mode.name}: {self.core.reason}",
                values=[KeyValue(key=k, value=str(v)) for k, v in values],
            ),
            DiagnosticStatus(
                name=f"{name}: inputs",
                hardware_id="safety",
                level=DiagnosticStatus.WARN if stale else DiagnosticStatus.OK,
                message="; ".join(stale) if stale else "joint_states, imu/data, feet wrenches fresh",
            ),
        ]
        self.pub_diag.publish(DiagnosticArray(header=Header(stamp=to_time_msg(self.robot_now)), status=statuses))

    def destroy_node(self) -> None:
        self.loop.stop()
        for sub in (self.joint_states_in, self.imu_in, *self.wrenches_in.values(), self.hardware_state_in):
            sub.destroy()
        super().destroy_node()


def main(args=None) -> None:
    """Run the supervisor alone: `ros2 run forma_control supervisor_node`."""
    run_node(SupervisorNode, (ControlError,), args)
