"""config/controllers.yaml (controller_manager parameters for a ROS 2 install), generated from the
description so that it cannot name a joint the robot lacks. Regenerate with
    forma describe --format controllers > config/controllers.yaml
(a test fails when the committed file and the description disagree).

Controllers, all to the ros2_control documentation's parameter names:
- joint_state_broadcaster: joint_states from every joint's state interfaces;
- imu_sensor_broadcaster, {left,right}_foot_ft_broadcaster: imu/data and feet/*/wrench;
- body_{position,velocity,effort}_controller: forward command controllers over the 38 body
  joints, one per command interface, fed by whole-body control (targets + feed-forward);
- {left,right}_hand_position_controller: forward command controllers over each hand's 22 joints.
"""

from __future__ import annotations

import yaml

from forma_description.robot_model import RobotModel

HEADER = """\
# controller_manager parameters for a ROS 2 install (ros2_control). GENERATED from the robot
# description by `forma describe --format controllers`; do not edit by hand (a test compares).
# Joint names and interfaces match the <ros2_control> block of urdf/forma.ros2_control.xacro.
"""


def controllers_config(robot: RobotModel, update_rate_hz: int = 500) -> dict:
    p = robot.prefix
    body = robot.group_joint_names("body")
    cfg: dict = {
        "controller_manager": {
            "ros__parameters": {
                "update_rate": update_rate_hz,  # [Hz]
                "joint_state_broadcaster": {"type": "joint_state_broadcaster/JointStateBroadcaster"},
                "imu_sensor_broadcaster": {"type": "imu_sensor_broadcaster/IMUSensorBroadcaster"},
                "left_foot_ft_broadcaster": {"type": "force_torque_sensor_broadcaster/ForceTorqueSensorBroadcaster"},
                "right_foot_ft_broadcaster": {"type": "force_torque_sensor_broadcaster/ForceTorqueSensorBroadcaster"},
                "body_position_controller": {"type": "forward_command_controller/ForwardCommandController"},
                "body_velocity_controller": {"type": "forward_command_controller/ForwardCommandController"},
                "body_effort_controller": {"type": "forward_command_controller/ForwardCommandController"},
                "left_hand_position_controller": {"type": "forward_command_controller/ForwardCommandController"},
                "right_hand_position_controller": {"type": "forward_command_controller/ForwardCommandController"},
            }
        },
        "imu_sensor_broadcaster": {"ros__parameters": {"sensor_name": "imu_sensor", "frame_id": f"{p}imu_link"}},
    }
    for side in ("left", "right"):
        cfg[f"{side}_foot_ft_broadcaster"] = {
            "ros__parameters": {"sensor_name": f"{side}_foot_ft", "frame_id": f"{p}{side}_sole"}
        }
    for interface in ("position", "velocity", "effort"):
        cfg[f"body_{interface}_controller"] = {"ros__parameters": {"joints": body, "interface_name": interface}}
    for side in ("left", "right"):
        cfg[f"{side}_hand_position_controller"] = {
            "ros__parameters": {"joints": robot.group_joint_names(f"{side}_hand"), "interface_name": "position"}
        }
    return cfg


class _WithoutAliases(yaml.SafeDumper):
    """Every list written out in full: rcl's parameter parser refuses YAML anchors and aliases
    ("Will not support aliasing"), which PyYAML writes for a list used twice (the body's joints)."""

    def ignore_aliases(self, data) -> bool:
        return True


def controllers_yaml(robot: RobotModel, update_rate_hz: int = 500) -> str:
    config = controllers_config(robot, update_rate_hz)
    return HEADER + yaml.dump(config, Dumper=_WithoutAliases, sort_keys=False, width=100)
