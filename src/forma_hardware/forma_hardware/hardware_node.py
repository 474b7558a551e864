"""The ROS side every hardware node shares (DESIGN §4): the MuJoCo sim and the motor-bus driver
serve the same topics and services through this base class, so nothing above them can tell them
apart.

Subclasses own the loop that produces state and hand it to the publish_* methods; this class owns
the command subscription (into the HardwareContract), the reset / e-stop / actuator-mode
services, hardware/state, diagnostics and robot_description. A lock guards the contract between
the executor's callbacks and the subclass's loop thread.
"""

from __future__ import annotations

import array
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger

from forma_description import RobotModel
from forma_description.robot_model import FINGERS
from forma_hardware.command_gate import JointCommand
from forma_hardware.contract import HardwareContract
from forma_hardware.errors import CommandRejected, HardwareConfigError
from forma_hardware.stop_latch import ActuatorMode, StopState
from forma_interfaces.msg import FingertipTouch, HardwareState
from forma_interfaces.srv import EStop, SetActuatorMode

SENSOR_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
# The 500 Hz state streams keep 0.5 s of samples for reliable re-delivery. A subscriber's DDS
# participant stalls while it matches a newly discovered node's endpoints (measured: 337 ms
# without a joint_states sample in `forma record` when the stand node was discovered); samples
# the writer has already overwritten are lost for good (75-88 joint_states at depth 5, 7-22 at
# depth 100). Small messages: ~1 MB per topic.
STREAM_QOS = QoSProfile(depth=250, reliability=ReliabilityPolicy.RELIABLE)
# Images: only the newest matters, and each kept sample pins a buffer of the writer's shared
# memory (5 RGB-D pairs at 320x240 = 1.3 MB, more than Fast DDS's default 0.5 MB segment).
IMAGE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
STATE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
DIAG_LEVEL = {
    StopState.ACTIVE: DiagnosticStatus.OK,
    StopState.HOLD: DiagnosticStatus.WARN,
    StopState.DAMP: DiagnosticStatus.ERROR,
}


def to_time_msg(t_s: float) -> Time:
    """Seconds -> builtin_interfaces/Time, rounded to the nanosecond. Rounding the whole value
    first matters: 3.9999999999 must become (4, 0), not (3, 0) — a stamp a second in the past."""
    sec, nanosec = divmod(round(t_s * 1e9), 1_000_000_000)
    return Time(sec=int(sec), nanosec=int(nanosec))


def float_array(values: np.ndarray) -> array.array:
    """A float64 array.array: the fast path of rclpy's sequence setters."""
    out = array.array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def key_values(pairs) -> list[KeyValue]:
    return [KeyValue(key=k, value=str(v)) for k, v in pairs]


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
        self.pub_joint_states = self.create_publisher(JointState, "joint_states", STREAM_QOS)
        self.pub_imu = self.create_publisher(Imu, "imu/data", STREAM_QOS)
        self.pub_wrench = {
            s: self.create_publisher(WrenchStamped, f"feet/{s}/wrench", STREAM_QOS) for s in ("left", "right")
        }
        self.pub_touch = {
            s: self.create_publisher(FingertipTouch, f"hands/{s}/touch", STREAM_QOS) for s in ("left", "right")
        }
        self.pub_state = self.create_publisher(HardwareState, "hardware/state", STATE_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "diagnostics", SENSOR_QOS)
        self.pub_description = self.create_publisher(String, "robot_description", LATCHED_QOS)
        self.pub_description.publish(String(data=robot.urdf_xml))
        self.create_subscription(JointState, "hardware/joint_commands", self._on_command, COMMAND_QOS)
        self.create_service(Trigger, "hardware/reset", self._on_reset)
        self.create_service(EStop, "hardware/estop", self._on_estop)
        # The e-stop topic reaches the lowest layer directly: one DDS hop, no service round trip
        # through the supervisor. It only engages; release is the supervisor's (hardware/estop).
        self.create_subscription(Bool, "safety/estop", self._on_estop_topic, COMMAND_QOS)
        self.create_service(SetActuatorMode, "hardware/set_actuator_mode", self._on_set_mode)
        self._js = JointState()
        self._js.name = list(joint_names if joint_names is not None else robot.joint_names)
        self._imu = Imu()
        self._imu.header.frame_id = robot.prefix + "imu_link"
        self._wrench = {s: WrenchStamped() for s in ("left", "right")}
        for s, msg in self._wrench.items():
            msg.header.frame_id = f"{robot.prefix}{s}_sole"
        self._touch = {s: FingertipTouch(fingers=list(FINGERS)) for s in ("left", "right")}

    # --- state out ---------------------------------------------------------------------------
    def publish_joint_states(self, stamp: Time, q: np.ndarray, qd: np.ndarray, tau: np.ndarray) -> None:
        js = self._js
        js.header.stamp = stamp
        js.position, js.velocity, js.effort = float_array(q), float_array(qd), float_array(tau)
        self.pub_joint_states.publish(js)

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
            groups = c.group_states()
            msg = HardwareState(
                groups=list(groups),
                stop_states=[int(s) for s, _, _ in groups.values()],
                actuator_modes=[int(m) for _, m, _ in groups.values()],
                reasons=[r for _, _, r in groups.values()],
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
    def _on_command(self, msg: JointState) -> None:
        cmd = JointCommand(
            names=msg.name,
            position=msg.position,
            velocity=msg.velocity,
            effort=msg.effort,
            stamp_s=msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
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
        verb = "engaged: all joints damping" if request.engage else "released: reset needed to move"
        self.get_logger().warning(f"e-stop {verb} ({request.reason or 'no reason given'})")
        response.success, response.message = True, f"e-stop {verb}"
        return response

    def _on_estop_topic(self, msg: Bool) -> None:
        if not msg.data:
            return  # release goes through the safety supervisor's reset, never straight here
        with self.lock:
            already = self.contract.estop_engaged
            self.contract.estop(True, "safety/estop topic", self.now())
        if not already:
            self.get_logger().warning("e-stop engaged by the safety/estop topic: all joints damping")
        self.publish_hardware_state(to_time_msg(self.now()))

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
