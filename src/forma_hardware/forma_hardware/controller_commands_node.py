"""The controller_commands node: Forma's commanders through ros2_control (forma_hardware.controller_commands).

Takes controllers/joint_commands (the commanders' hardware/joint_commands, remapped by the
robot_ros2_control deployment) and publishes each accepted command to the group's
forward_command_controllers (`<controller>/commands`, std_msgs/Float64MultiArray); refusals are
logged (at most once a second, all counted) and send nothing. The controllers come from the
description (the file forma_description.controllers generates, config/controllers.yaml) or from
`controllers_file`.

Ready signal: once every controller's `commands` topic has its subscriber (the controllers are
loaded and configured), the node offers a publisher on controllers/joint_commands, the topic it
reads (it never publishes there). A safety supervisor that lists `controller_commands` among its
`commanders` (it waits for each one's publisher on its command topic) so never stands the robot up
while a controller is still being spawned: a hand whose controller came late latched HOLD for good.

Like the hardware node it feeds, it reads commands in a thread of its own (forma_common.direct),
not through the executor: it takes every command that waits and forwards the newest of each
commander (its joint list), so a process that fell behind catches up at once instead of working
through a backlog that would reach the robot late. Its clock is the robot's: the stamp of the
newest hardware/robot_state (polled, no wake-up), against which stale commands are refused and
silent commanders found (hardware/hold: controller_commands.CommanderWatch).
"""

from __future__ import annotations

import dataclasses
import struct
import threading
import time

import yaml
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from forma_common import qos
from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.messages import stamp_s
from forma_common.node import declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_common.state_cdr import CdrFormatError, JointStateReader
from forma_description import DescriptionError, RobotModel
from forma_description.controllers import controllers_config
from forma_hardware.command_gate import JointCommand
from forma_hardware.config import load_hardware_config
from forma_hardware.controller_commands import CommanderWatch, ControllerCommands, controller_groups
from forma_hardware.errors import CommandRejected, HardwareError
from forma_interfaces.msg import RobotState


@dataclasses.dataclass(frozen=True)
class ControllerCommandsParams:
    controllers_file: str = param(
        "",
        "controller_manager parameters naming the forward command controllers; empty = generated from the description",
    )
    max_age_s: float = param(
        0.10, "older commands are refused: their stamp does not cross ros2_control", unit="s", low=0.0, high=10.0
    )
    max_future_s: float = param(0.05, "commands stamped further ahead are refused", unit="s", low=0.0, high=10.0)
    hardware_config: str = param(
        "",
        "hardware contract file whose watchdog timeouts a silent commander is held after (hardware/hold); "
        "empty = share/forma_hardware/hardware.yaml",
    )


class ControllerCommandsNode(Node):
    """controllers/joint_commands -> the forward command controllers' commands."""

    PARAMS = ((ControllerCommandsParams, ""),)

    def __init__(self, node_name: str = "controller_commands", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        on_robot_clock(self)
        self.p = declare_params(self, ControllerCommandsParams, error=HardwareError)
        self.split: ControllerCommands | None = None
        self.publishers_by_controller: dict[str, object] = {}
        self.forwarded = 0
        self.refused = 0
        self.robot_now_s: float | None = None  # the newest hardware/robot_state stamp [s]
        watchdogs = load_hardware_config(self.p.hardware_config or None).watchdogs
        self.watch = CommanderWatch({g: w.timeout_s for g, w in watchdogs.items()})
        self.pub_hold = self.create_publisher(String, "hardware/hold", qos.EVENTS)
        self._last_log = 0.0
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.commands_in = DirectSubscription(self, JointState, "controllers/joint_commands", qos.COMMAND_INTAKE)
        self.clock_in = DirectSubscription(self, RobotState, "hardware/robot_state", qos.NEWEST)
        self.waiter = InputWaiter(self, [self.commands_in])
        self.reader = JointStateReader()
        self.ready_signal = None  # the publisher that tells a supervisor the controllers are there
        self._ready_timer = self.create_timer(0.5, self._look_for_controllers)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="controller_commands", daemon=True)
        self._thread.start()

    def _look_for_controllers(self) -> None:
        """Offer the ready signal once every controller subscribes to its commands (see module docstring)."""
        if not self.publishers_by_controller:
            return
        missing = [c for c, pub in self.publishers_by_controller.items() if pub.get_subscription_count() == 0]
        if missing:
            self.get_logger().info(f"waiting for controllers: {', '.join(missing)}", throttle_duration_sec=5.0)
            return
        self.ready_signal = self.create_publisher(JointState, "controllers/joint_commands", qos.COMMANDS)
        self._ready_timer.cancel()
        self.get_logger().info("every controller is up: ready (a publisher on controllers/joint_commands)")

    def _on_description(self, msg: String) -> None:
        if self.split is not None:
            return
        robot = RobotModel.from_urdf(msg.data)
        if self.p.controllers_file:
            with open(self.p.controllers_file) as f:
                config = yaml.safe_load(f)
        else:
            config = controllers_config(robot)
        groups = controller_groups(config, {j.name: j.group for j in robot.joints})
        for group in groups:
            for controller in group.controllers.values():
                self.publishers_by_controller[controller] = self.create_publisher(
                    Float64MultiArray, f"{controller}/commands", 10
                )
        self.split = ControllerCommands(groups, self.p.max_age_s, self.p.max_future_s)
        self.get_logger().info(
            "commanding " + "; ".join(f"{g.name} through {', '.join(g.controllers.values())}" for g in groups)
        )

    # --- the loop thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while self._running and self.context.ok():
            if self.waiter.wait(0.01):  # at least every 10 ms: a silence shows without a command
                self._forward_newest()
            self._read_robot_clock()
            if self.robot_now_s is not None:
                for group in self.watch.silent(self.robot_now_s):
                    self.get_logger().warning(
                        f"{group}: no command for {self.watch.timeouts_s[group]:.2f} s, and the controllers keep "
                        "streaming its last targets: asking the hardware to hold it (hardware/hold)"
                    )
                    self.pub_hold.publish(String(data=group))

    def _read_robot_clock(self) -> None:
        clock = self.clock_in.take_newest_serialized()
        if clock is not None:
            sec, nanosec = struct.unpack_from("<iI", clock, 4)  # CDR: header stamp first
            self.robot_now_s = sec + nanosec * 1e-9

    def _forward_newest(self) -> None:
        newest: dict[tuple[str, ...], JointCommand] = {}  # per commander (its joint list): the newest
        while (data := self.commands_in.take_serialized()) is not None:
            try:
                s = self.reader.read(data)
                cmd = JointCommand(s.name, s.position, s.velocity, s.effort, s.stamp_sec + s.stamp_nanosec * 1e-9)
            except CdrFormatError:
                m = deserialize_message(data, JointState)
                cmd = JointCommand(tuple(m.name), m.position, m.velocity, m.effort, stamp_s(m.header.stamp))
            newest[tuple(cmd.names)] = cmd
        if not newest:
            return
        self._read_robot_clock()
        for cmd in newest.values():
            self._forward(cmd)

    def _forward(self, cmd: JointCommand) -> None:
        if self.split is None or self.robot_now_s is None:
            self._refuse("no robot_description or hardware/robot_state yet: controllers or robot's clock unknown")
            return
        try:
            data = self.split.split(cmd, self.robot_now_s)
        except CommandRejected as exc:
            self._refuse(str(exc))
            return
        for controller, values in data.items():
            self.publishers_by_controller[controller].publish(Float64MultiArray(data=values))
        self.watch.spoke(self.split.groups_of(cmd.names), cmd.stamp_s)
        self.forwarded += 1

    def _refuse(self, reason: str) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._last_log > 1.0:  # at most once a second; all are counted
            self._last_log = now
            self.get_logger().warning(
                f"command refused, nothing sent to the controllers ({self.refused} of "
                f"{self.refused + self.forwarded} so far): {reason}"
            )

    def destroy_node(self) -> None:
        self._running = False
        self.waiter.wake()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self.waiter.destroy()
        self.commands_in.destroy()
        self.clock_in.destroy()
        super().destroy_node()


def main(args=None) -> None:
    """Run the node alone: `controller_commands_node` in the venv."""
    run_node(ControllerCommandsNode, (HardwareError, DescriptionError), args)
