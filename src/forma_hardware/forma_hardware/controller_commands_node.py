"""The controller_commands node: Forma's commanders through ros2_control (forma_hardware.controller_commands).

Takes controllers/joint_commands (the commanders' hardware/joint_commands, remapped by the
robot_ros2_control deployment) and publishes each accepted command to the group's
forward_command_controllers (`<controller>/commands`, std_msgs/Float64MultiArray); refusals are
logged (at most once a second, all counted) and send nothing. The controllers come from the
description (the file forma_description.controllers generates, config/controllers.yaml) or from
`controllers_file`.
"""

from __future__ import annotations

import dataclasses
import time

import yaml
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from forma_common import qos
from forma_common.messages import stamp_s
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_description import DescriptionError, RobotModel
from forma_description.controllers import controllers_config
from forma_hardware.command_gate import JointCommand
from forma_hardware.controller_commands import ControllerCommands, controller_groups
from forma_hardware.errors import CommandRejected, HardwareError


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


class ControllerCommandsNode(Node):
    """controllers/joint_commands -> the forward command controllers' commands."""

    PARAMS = ((ControllerCommandsParams, ""),)

    def __init__(self, node_name: str = "controller_commands", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.p = declare_params(self, ControllerCommandsParams, error=HardwareError)
        self.split: ControllerCommands | None = None
        self.publishers_by_controller: dict[str, object] = {}
        self.refused = 0
        self._last_log = 0.0
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.create_subscription(JointState, "controllers/joint_commands", self._on_command, qos.COMMAND_INTAKE)

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

    def _on_command(self, msg: JointState) -> None:
        if self.split is None:
            self._refuse("no robot_description yet: the controllers are not known")
            return
        cmd = JointCommand(msg.name, msg.position, msg.velocity, msg.effort, stamp_s(msg.header.stamp))
        try:
            data = self.split.split(cmd, self.get_clock().now().nanoseconds * 1e-9)
        except CommandRejected as exc:
            self._refuse(str(exc))
            return
        for controller, values in data.items():
            self.publishers_by_controller[controller].publish(Float64MultiArray(data=values))

    def _refuse(self, reason: str) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._last_log > 1.0:  # at most once a second; all are counted
            self._last_log = now
            self.get_logger().warning(
                f"command refused, nothing sent to the controllers ({self.refused} so far): {reason}"
            )


def main(args=None) -> None:
    """Run the node alone: `controller_commands_node` in the venv."""
    run_node(ControllerCommandsNode, (HardwareError, DescriptionError), args)
