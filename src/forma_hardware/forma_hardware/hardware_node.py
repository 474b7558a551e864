"""The ROS side every hardware node shares (DESIGN §4): the MuJoCo sim and the motor-bus driver
serve the same topics and services through this base class, so nothing above them can tell them
apart.

Subclasses own the loop that produces state and hand it to the publish_* methods; this class owns
the command intake (into the HardwareContract), the reset / e-stop / actuator-mode services,
hardware/state, diagnostics and robot_description. A lock guards the contract between the
executor's callbacks (services) and the subclass's loop thread.

Commands and the safety/estop topic never go through the executor: the loop thread takes them
itself (take_commands) before each period, from direct subscriptions (forma_common.direct). That
keeps ~600 command messages a second off the executor (each wake-up costs ~150 us of Python
here), and puts an e-stop into effect at the next period boundary whatever the executor is doing.

State out (publish_period): every control period one forma_interfaces/RobotState on
hardware/robot_state (joints, IMU and foot wrenches of that period, for the whole-body
controller), and every n-th period (sensor_rate_hz) the standard joint_states, imu/data and
feet/{left,right}/wrench for everyone else. Each sample costs its writer ~25 us per reader here
and each reader a wake-up; one 500 Hz message with one reader, and the standard topics at the rate
their readers use, cut the sim's publishing cost by ~4x (measured, README "CPU budget").
robot_state and joint_states are written, and commands read, as their bytes
(forma_common.state_cdr): rclpy's conversion of an 82-joint message cost ~50 us each way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import WrenchStamped
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.messages import key_values, stamp_s, to_time_msg
from forma_common.state_cdr import (
    CdrFormatError,
    JointStateReader,
    JointStateSample,
    JointStateWriter,
    RobotStateWriter,
)
from forma_description import RobotModel
from forma_description.robot_model import FINGERS
from forma_hardware.command_gate import JointCommand
from forma_hardware.contract import HardwareContract
from forma_hardware.errors import CommandRejected, HardwareConfigError
from forma_hardware.stop_latch import ActuatorMode, StopCause, StopState
from forma_interfaces.msg import FingertipTouch, HardwareState, RobotState
from forma_interfaces.srv import EStop, SetActuatorMode

DIAG_LEVEL = {
    StopState.ACTIVE: DiagnosticStatus.OK,
    StopState.HOLD: DiagnosticStatus.WARN,
    StopState.DAMP: DiagnosticStatus.ERROR,
}


class HardwareNode(Node):
    """Topics and services of a hardware node around a HardwareContract."""

    def __init__(self, node_name: str, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.lock = threading.RLock()
        self._last_reject_log = 0.0
        self.hardware_id = "hardware"

    def init_hardware(
        self,
        robot: RobotModel,
        contract: HardwareContract,
        now_fn: Callable[[], float],
        measured_positions: Callable[[], np.ndarray],
        joint_names: Sequence[str] | None = None,
    ) -> None:
        """Create the shared interfaces; call once the subclass has its robot and contract."""
        self.robot, self.contract = robot, contract
        self.now = now_fn
        self._measured_positions = measured_positions
        self.pub_robot_state = self.create_publisher(RobotState, "hardware/robot_state", qos.STATE_STREAM)
        self.pub_joint_states = self.create_publisher(JointState, "joint_states", qos.STATE_STREAM)
        self.pub_imu = self.create_publisher(Imu, "imu/data", qos.STATE_STREAM)
        self.pub_wrench = {
            s: self.create_publisher(WrenchStamped, f"feet/{s}/wrench", qos.STATE_STREAM) for s in ("left", "right")
        }
        self.pub_touch = {
            s: self.create_publisher(FingertipTouch, f"hands/{s}/touch", qos.STATE_STREAM) for s in ("left", "right")
        }
        self.pub_state = self.create_publisher(HardwareState, "hardware/state", qos.STATUS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "diagnostics", qos.SENSORS)
        self.pub_description = self.create_publisher(String, "robot_description", qos.LATCHED)
        self.pub_description.publish(String(data=robot.urdf_xml))
        # Taken by the loop thread (take_commands), never by the executor: see the module docstring.
        self.commands_in = DirectSubscription(self, JointState, "hardware/joint_commands", qos.COMMAND_INTAKE)
        # The e-stop topic reaches the lowest layer directly: one DDS hop, no service round trip
        # through the supervisor. It only engages; release is the supervisor's (hardware/estop).
        self.estop_in = DirectSubscription(self, Bool, "safety/estop", qos.EVENTS)
        self.inputs = InputWaiter(self, [self.commands_in, self.estop_in])
        self.estop_waiter = InputWaiter(self, [self.estop_in])  # a loop that sleeps between periods wakes for it
        # A command group whose commander went silent above the hardware (controller_commands,
        # under ros2_control, where the controllers keep streaming its last targets): HOLD it as
        # the group's own watchdog would. The group's name; ACTIVE groups only.
        self.create_subscription(String, "hardware/hold", self._on_hold_request, qos.EVENTS)
        self.create_service(Trigger, "hardware/reset", self._on_reset)
        self.create_service(EStop, "hardware/estop", self._on_estop)
        self.create_service(SetActuatorMode, "hardware/set_actuator_mode", self._on_set_mode)
        names = list(joint_names if joint_names is not None else robot.joint_names)
        self._joint_states_writer = JointStateWriter(names)
        self._robot_state_writer = RobotStateWriter(names)
        self._command_reader = JointStateReader()
        self._imu = Imu()
        self._imu.header.frame_id = robot.prefix + "imu_link"
        self._wrench = {s: WrenchStamped() for s in ("left", "right")}
        for s, msg in self._wrench.items():
            msg.header.frame_id = f"{robot.prefix}{s}_sole"
        self._touch = {s: FingertipTouch(fingers=list(FINGERS)) for s in ("left", "right")}

    # --- state out ---------------------------------------------------------------------------
    def publish_period(
        self,
        stamp: Time,
        q: np.ndarray,
        qd: np.ndarray,
        tau: np.ndarray,
        imu: tuple | None,
        wrenches: dict[str, tuple],
        standard: bool,
    ) -> None:
        """One control period's measurements: hardware/robot_state always, and the standard
        joint_states, imu/data and feet wrenches when `standard` (imu and wrenches first, so a
        reader woken by joint_states finds that period's). imu: (orientation wxyz, angular
        velocity, linear acceleration) or None; wrenches: side -> (force, torque); a sensor
        missing this period goes out as NaN in the RobotState and not at all on its own topic."""
        left, right = wrenches.get("left"), wrenches.get("right")
        self.pub_robot_state.publish(
            self._robot_state_writer.write_state(stamp.sec, stamp.nanosec, q, qd, tau, imu, left, right)
        )
        if not standard:
            return
        if imu is not None:
            self.publish_imu(stamp, *imu)
        for side, (force, torque) in wrenches.items():
            self.publish_wrench(stamp, side, force, torque)
        self.publish_joint_states(stamp, q, qd, tau)

    def publish_joint_states(self, stamp: Time, q: np.ndarray, qd: np.ndarray, tau: np.ndarray) -> None:
        self.pub_joint_states.publish(self._joint_states_writer.write(stamp.sec, stamp.nanosec, q, qd, tau))

    def publish_imu(self, stamp: Time, orientation_wxyz, angular_velocity, linear_acceleration) -> None:
        m = self._imu
        m.header.stamp = stamp
        o = m.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in orientation_wxyz)
        m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z = (float(v) for v in angular_velocity)
        a = m.linear_acceleration
        a.x, a.y, a.z = (float(v) for v in linear_acceleration)
        self.pub_imu.publish(m)

    def publish_wrench(self, stamp: Time, side: str, force, torque) -> None:
        msg = self._wrench[side]
        msg.header.stamp = stamp
        msg.wrench.force.x, msg.wrench.force.y, msg.wrench.force.z = (float(v) for v in force)
        msg.wrench.torque.x, msg.wrench.torque.y, msg.wrench.torque.z = (float(v) for v in torque)
        self.pub_wrench[side].publish(msg)

    def publish_touch(self, stamp: Time, side: str, forces) -> None:
        msg = self._touch[side]
        msg.header.stamp = stamp
        msg.force_n = [float(f) for f in forces]
        self.pub_touch[side].publish(msg)

    def publish_hardware_state(self, stamp: Time) -> None:
        with self.lock:
            c = self.contract
            groups, causes = c.group_states(), c.group_causes()
            msg = HardwareState(
                groups=list(groups),
                stop_states=[int(s) for s, _, _ in groups.values()],
                actuator_modes=[int(m) for _, m, _ in groups.values()],
                reasons=[r for _, _, r in groups.values()],
                causes=[int(causes[g]) for g in groups],
                estop_engaged=c.estop_engaged,
                commands_rejected=c.commands_rejected,
                commands_clamped=c.commands_clamped,
            )
        msg.header.stamp = stamp
        self.pub_state.publish(msg)

    def publish_diagnostics(self, stamp: Time, extra: Sequence[DiagnosticStatus] = ()) -> None:
        """The command gate and one entry per group, after the subclass's own statuses."""
        name = self.get_name()
        with self.lock:
            c = self.contract
            groups = c.group_states()
            gate = DiagnosticStatus(
                name=f"{name}: command gate",
                hardware_id=self.hardware_id,
                level=DiagnosticStatus.WARN if c.commands_rejected or c.commands_clamped else DiagnosticStatus.OK,
                message=c.last_reject_reason or c.last_clamp or "all commands accepted",
                values=key_values(
                    (
                        ("accepted", c.commands_accepted),
                        ("rejected", c.commands_rejected),
                        ("clamped", c.commands_clamped),
                        ("last_rejection", c.last_reject_reason),
                        ("last_clamp", c.last_clamp),
                    )
                ),
            )
        statuses = [*extra, gate]
        for group, (state, mode, reason) in groups.items():
            statuses.append(
                DiagnosticStatus(
                    name=f"{name}: group {group}",
                    hardware_id=self.hardware_id,
                    level=DIAG_LEVEL[state],
                    message=f"{state.name} ({mode.name})" + (f": {reason}" if reason else ""),
                )
            )
        self.pub_diag.publish(DiagnosticArray(header=Header(stamp=stamp), status=statuses))

    # --- commands and services ------------------------------------------------------------------
    def take_commands(self) -> int:
        """From the loop thread: apply every waiting e-stop message, then every waiting command,
        in arrival order. Returns how many commands were taken."""
        self.take_estops()
        taken = 0
        while (data := self.commands_in.take_serialized()) is not None:
            taken += 1
            try:
                msg = self._command_reader.read(data)
            except CdrFormatError as exc:
                self.get_logger().warning(f"hardware/joint_commands read through rclpy: {exc}", once=True)
                msg = deserialize_message(data, JointState)
            self._on_command(msg)
        return taken

    def take_estops(self) -> None:
        """From the loop thread: apply every waiting e-stop message."""
        for msg in self.estop_in.take_all():
            self._on_estop_topic(msg)

    def sleep_until(self, deadline_s: float) -> None:
        """From the loop thread: sleep until `deadline_s` [s, time.monotonic], engaging an e-stop
        the moment it arrives. Commands wait in their reader for the next period: the actuators
        change only there, so taking each as it came bought nothing and cost a wake-up per command
        (500 Hz from the WBC, 200 Hz from the hands). wake_loop() ends the sleep (shutdown)."""
        while (delay := deadline_s - time.monotonic()) > 0:
            if not self.estop_waiter.wait(delay):
                return  # the deadline, or wake_loop()
            self.take_estops()

    def wait_for_inputs(self, timeout_s: float) -> bool:
        """From the loop thread: block until a command or e-stop message waits (True), the timeout
        passes or wake_loop() is called (False)."""
        return self.inputs.wait(timeout_s)

    def wake_loop(self) -> None:
        """From any thread: end the loop thread's wait_for_inputs or sleep_until now (shutdown)."""
        self.inputs.wake()
        self.estop_waiter.wake()

    def destroy_node(self) -> None:
        if hasattr(self, "inputs"):
            self.inputs.destroy()
            self.estop_waiter.destroy()
            self.commands_in.destroy()
            self.estop_in.destroy()
        super().destroy_node()

    def _on_command(self, msg: JointStateSample | JointState) -> None:
        stamp = msg.stamp_s if isinstance(msg, JointStateSample) else stamp_s(msg.header.stamp)
        cmd = JointCommand(
            names=msg.name, position=msg.position, velocity=msg.velocity, effort=msg.effort, stamp_s=stamp
        )
        try:
            with self.lock:
                gated = self.contract.submit(cmd, self.now())
        except CommandRejected as exc:
            now = time.monotonic()
            if now - self._last_reject_log > 1.0:  # at most once a second; all are counted
                self._last_reject_log = now
                self.get_logger().warning(f"command rejected, nothing moved: {exc}")
            return
        if gated.clamped:
            self.get_logger().warning(f"command clamped: {'; '.join(gated.clamped[:3])}", throttle_duration_sec=1.0)
        self.command_accepted(gated.groups, cmd.stamp_s)

    def command_accepted(self, groups, stamp_s: float) -> None:
        """Hook: a command for these groups passed the contract (the sim paces itself on it)."""

    def reset_refusal(self) -> str:
        """Why a reset must be refused now ("" = allowed); subclasses add their own reasons."""
        return ""

    def after_reset(self) -> None:
        """Called under the lock after a successful reset (the bus driver forgets old faults)."""

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        refusal = self.reset_refusal()
        if refusal:
            ok, message = False, refusal
        else:
            with self.lock:
                ok, message, _ = self.contract.reset(self.now(), self._measured_positions())
                if ok:
                    self.after_reset()
        response.success, response.message = ok, message
        log = self.get_logger()
        log.info(f"reset: {message}") if ok else log.warning(f"reset refused: {message}")
        return response

    def _on_estop(self, request: EStop.Request, response: EStop.Response) -> EStop.Response:
        with self.lock:
            self.contract.estop(request.engage, request.reason, self.now())
        self.publish_hardware_state(to_time_msg(self.now()))  # said at once, before the log (~1 ms: /rosout)
        verb = "engaged: all joints damping" if request.engage else "released: reset needed to move"
        self.get_logger().warning(f"e-stop {verb} ({request.reason or 'no reason given'})")
        response.success, response.message = True, f"e-stop {verb}"
        return response

    def _on_estop_topic(self, msg: Bool) -> None:
        if not msg.data:
            return  # release goes through the safety supervisor's reset, never straight here
        with self.lock:
            already = self.contract.estop_engaged
            self.contract.estop(True, "safety/estop topic", self.now(), StopCause.ESTOP_TOPIC)
        self.publish_hardware_state(to_time_msg(self.now()))  # first: the log line below costs ~1 ms (/rosout)
        if not already:
            self.get_logger().warning("e-stop engaged by the safety/estop topic: all joints damping")

    def _on_hold_request(self, msg: String) -> None:
        reason = "no command from its commander above the hardware (hold requested on hardware/hold)"
        try:
            with self.lock:
                transitions = self.contract.hold_group(msg.data, reason, self.now(), self._measured_positions())
        except HardwareConfigError as exc:
            self.get_logger().warning(f"hardware/hold refused: {exc}")
            return
        if transitions:
            self.publish_hardware_state(to_time_msg(self.now()))
            self.get_logger().warning(f"group {msg.data} latched in HOLD: {reason}")

    def _on_set_mode(self, request: SetActuatorMode.Request, response: SetActuatorMode.Response):
        try:
            mode = ActuatorMode(request.mode)
            with self.lock:
                self.contract.set_mode(request.group, mode)
        except (ValueError, HardwareConfigError) as exc:
            response.success, response.message = False, f"refused: {exc}"
            return response
        response.success, response.message = True, f"{request.group}: {mode.name}"
        self.get_logger().info(f"actuator mode {request.group} -> {mode.name}")
        return response
