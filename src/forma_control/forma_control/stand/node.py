"""The joint-PD stand: bring the robot to a named pose with a smooth ramp and hold it there.

On start it waits for joint_states, asks the hardware for a reset (auto_reset; the safety
supervisor takes this over once it exists), ramps from the measured pose to the target pose and
then keeps sending the pose at rate_hz so the hardware watchdogs stay fed. If the hardware
latches HOLD or DAMP it stops commanding and says so: only a deliberate reset resumes.
"""

from __future__ import annotations

import array
import dataclasses
import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_control.stand.posture import PostureRamp
from forma_description import DescriptionError, RobotModel
from forma_description.poses import available_poses, named_pose
from forma_description.robot_model import GROUPS
from forma_interfaces.msg import HardwareState


@dataclasses.dataclass(frozen=True)
class StandParams:
    pose: str = param("stand", "named pose from urdf/poses.yaml", choices=available_poses())
    rate_hz: float = param(
        100.0, "command rate; must beat the hardware watchdog timeouts", unit="Hz", low=1.0, high=1000.0
    )
    max_speed_rad_s: float = param(0.5, "fastest joint speed of the start ramp", unit="rad/s", low=0.01, high=5.0)
    groups: list[str] = param(list(GROUPS), "command groups to drive", choices=GROUPS)
    auto_reset: bool = param(True, "call hardware/reset before the ramp (until the safety supervisor exists)")
    recover_timeouts_per_min: int = param(
        10,
        "auto_reset only: resume from a command-timeout HOLD this often per minute at most; 0 = never",
        low=0,
        high=60,
    )


class StandNode(Node):
    """Ramps to and holds a named joint pose through hardware/joint_commands."""

    PARAMS = (StandParams,)

    def __init__(self, node_name: str = "stand", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, StandParams, error=DescriptionError)
        self.rate = p.rate_hz
        self.groups = set(p.groups)
        if not self.groups:
            raise DescriptionError(f"parameter groups=[]: name at least one of {', '.join(GROUPS)}")
        self.pose_name = p.pose
        self.max_speed = p.max_speed_rad_s
        self.auto_reset = p.auto_reset
        self.recoveries_per_min = p.recover_timeouts_per_min
        self.recoveries: list[float] = []  # wall times of automatic recoveries
        self.recovering = False
        self.state_valid_from = 0.0  # hardware/state stamped earlier describes the time before a reset
        self.ramp: PostureRamp | None = None
        self.names: list[str] = []
        self.measured: np.ndarray | None = None
        self.latched_reason = ""
        self.reset_pending = False
        self.resume_pending = False
        self.state_sub = None
        self._msg = JointState()

        self.pub = self.create_publisher(JointState, "hardware/joint_commands", qos.COMMANDS)
        # The robot as the hardware describes it: joint names, limits and the pose come from there.
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.create_subscription(HardwareState, "hardware/state", self._on_hardware_state, 1)
        self.reset_client = self.create_client(Trigger, "hardware/reset")
        self.timer = self.create_timer(1.0 / self.rate, self._tick)
        self.get_logger().info(f"stand: pose {self.pose_name!r}; waiting for robot_description")

    def _on_description(self, msg: String) -> None:
        if self.ramp is not None:
            return  # the description does not change under a running stand
        try:
            robot = RobotModel.from_urdf(msg.data)
            pose = named_pose(self.pose_name, robot)
        except DescriptionError as exc:
            self.get_logger().error(f"cannot stand this robot: {exc}")
            return
        selected = [i for i, j in enumerate(robot.joints) if j.group in self.groups]
        self.names = [robot.joints[i].name for i in selected]
        limits = robot.limits_arrays()
        self.ramp = PostureRamp(
            self.names,
            pose[selected],
            self.max_speed,
            lower=limits["lower"][selected],
            upper=limits["upper"][selected],
        )
        self._msg.name = self.names
        # joint_states (500 Hz) is only needed to start a ramp: subscribe while waiting for it.
        self._want_state()
        self.get_logger().info(f"stand: {len(self.names)} joints ({', '.join(sorted(self.groups))})")

    def _want_state(self) -> None:
        self.measured = None
        if self.state_sub is None:
            self.state_sub = self.create_subscription(JointState, "joint_states", self._on_joint_states, qos.SENSORS)

    def _on_joint_states(self, msg: JointState) -> None:
        index = {name: i for i, name in enumerate(msg.name)}
        try:
            measured = np.array([msg.position[index[n]] for n in self.names])
        except (KeyError, IndexError):
            self.get_logger().error("joint_states lacks joints of this robot; check body/prefix", once=True)
            return
        if np.all(np.isfinite(measured)):  # under ros2_control: NaN until the hardware's first sample
            self.measured = measured

    def _on_hardware_state(self, msg: HardwareState) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if self.ramp is None or not self.ramp.started or stamp < max(self.ramp.t0, self.state_valid_from):
            return  # before our ramp (e.g. the startup hold we reset out of) or before a recovery
        latched = [
            f"{g}: {msg.reasons[i]}"
            for i, g in enumerate(msg.groups)
            if g in self.groups and msg.stop_states[i] != HardwareState.ACTIVE
        ]
        reason = "; ".join(latched)
        if reason and not self.latched_reason:
            self.get_logger().warning(f"hardware latched ({reason}); stopped commanding until a reset")
            if self._may_recover(msg):
                self._recover()
        elif not reason and self.latched_reason and not self.recovering:
            self.get_logger().info("hardware active again after a reset: ramping from the measured pose")
            self.resume_pending = True
            self._want_state()
        self.latched_reason = reason

    def _may_recover(self, msg: HardwareState) -> bool:
        """A HOLD from a command timeout only (the robot still stands stiffly), never an e-stop,
        a damp, a fault or a fall; and not more often than recover_timeouts_per_min."""
        if not self.auto_reset or msg.estop_engaged:
            return False
        mine = [i for i, g in enumerate(msg.groups) if g in self.groups]
        held = [i for i in mine if msg.stop_states[i] != HardwareState.ACTIVE]
        if not held or any(msg.stop_states[i] != HardwareState.HOLD for i in held):
            return False
        timeouts = len(msg.causes) == len(msg.groups) and all(
            msg.causes[i] == HardwareState.CAUSE_COMMAND_TIMEOUT for i in held
        )
        if not timeouts:
            return False
        now = time.monotonic()
        self.recoveries = [t for t in self.recoveries if now - t < 60.0]
        return len(self.recoveries) < self.recoveries_per_min

    def _recover(self) -> None:
        """Reset out of a timeout HOLD; the resume ramps from the measured pose (a tiny ramp: HOLD
        kept the last targets). Logged, counted, rate-limited: a commander that keeps timing out
        ends latched for an operator to look at."""
        if not self.reset_client.service_is_ready():
            return
        self.recoveries.append(time.monotonic())
        self.recovering = True
        self.get_logger().warning(
            f"command timeout while standing: resetting and resuming "
            f"({len(self.recoveries)}/{self.recoveries_per_min} this minute; is the machine overloaded?)"
        )
        self.reset_client.call_async(Trigger.Request()).add_done_callback(self._on_recovered)

    def _on_recovered(self, future) -> None:
        """Command again at once: the watchdog runs from the reset, hardware/state may come later."""
        self.recovering = False
        result = future.result()
        if result is not None and result.success:
            self.latched_reason = ""
            self.state_valid_from = self._now()
            self.get_logger().info("hardware active again: holding the pose")
        else:
            self.get_logger().error(f"reset refused: {result.message if result else 'no answer'}; stays latched")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _tick(self) -> None:
        now = self._now()
        if now <= 0.0 or self.ramp is None:
            return  # no /clock yet under use_sim_time, or no robot description yet
        if not self.ramp.started or self.resume_pending:
            if self.measured is not None:
                self._start(now)
            return
        if self.latched_reason:
            return
        self._msg.header.stamp = self.get_clock().now().to_msg()
        self._msg.position = array.array("d", self.ramp.target(now).tobytes())
        self.pub.publish(self._msg)

    def _start(self, now: float) -> None:
        if self.auto_reset and not self.resume_pending:
            if self.reset_pending:
                return
            if not self.reset_client.service_is_ready():
                self.get_logger().info("waiting for hardware/reset", throttle_duration_sec=5.0)
                return
            self.reset_pending = True
            self.reset_client.call_async(Trigger.Request()).add_done_callback(self._on_reset_done)
            return
        self._begin_ramp(now)

    def _on_reset_done(self, future) -> None:
        self.reset_pending = False
        result = future.result()
        if result is None or not result.success:
            self.get_logger().error(f"hardware reset refused: {result.message if result else 'no answer'}")
            self.auto_reset = False  # do not hammer the hardware; an operator decides
            self.timer.cancel()
            return
        self._begin_ramp(self._now())

    def _begin_ramp(self, now: float) -> None:
        duration = self.ramp.start(self.measured, now)
        self.resume_pending = False
        if self.state_sub is not None:
            self.destroy_subscription(self.state_sub)
            self.state_sub = None
        self.get_logger().info(f"ramping to the pose over {duration:.2f} s")


def main(args=None) -> None:
    """Run the stand alone: `ros2 run forma_control stand_node`."""
    run_node(StandNode, (DescriptionError,), args)
