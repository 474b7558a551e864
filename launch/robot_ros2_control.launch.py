"""The real robot under ros2_control: controller_manager with the topic hardware
(joint_state_topic_hardware_interface/JointStateTopicSystem) bridging to the Forma bus driver's
topics, the controllers of config/controllers.yaml, robot_state_publisher.

    ros2 launch forma_bringup robot_ros2_control.launch.py        # on the robot computer

The topic hardware publishes every joint's position/velocity/effort commands, stamped, on
hardware/joint_commands at the controller_manager's rate (trigger_joint_command_threshold -1 in
the URDF: the driver's watchdogs need a steady stream) and reads hardware/joint_states, which the
deployment robot_ros2_control remaps the driver's joint_states to. Position targets stay NaN, and
the driver's contract refuses the stream, until a controller is commanded: nothing streams a pose
no one commanded. The sensor broadcasters are not spawned (the driver publishes imu/data and
feet/*/wrench itself; forma_bringup.ros2_control_plan). A spawner that fails stops the whole
bringup with its reason: never a half-started robot.
"""

from __future__ import annotations

import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    OpaqueFunction,
    RegisterEventHandler,
    Shutdown,
)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from forma_bringup import gazebo_plan
from forma_bringup.ros2_control_plan import spawner_failure, topic_controller_spawn
from forma_description import expand_description
from launch import LaunchContext, LaunchDescription

SHARE = get_package_share_directory("forma_bringup")
CONTROLLERS_FILE = os.path.join(SHARE, "config", "controllers.yaml")


def _stop_if_failed(names: tuple[str, ...]):
    def on_exit(event, context: LaunchContext) -> list:
        reason = spawner_failure(names, event.returncode)
        return [Shutdown(reason=reason)] if reason else []

    return on_exit


def _control(context: LaunchContext) -> list:
    body = LaunchConfiguration("body").perform(context)
    height = gazebo_plan.parse_height(LaunchConfiguration("height").perform(context))
    description = expand_description(body, height, hardware="topic")
    with open(CONTROLLERS_FILE) as f:
        spawn = topic_controller_spawn(yaml.safe_load(f))
    spawner = Node(
        package="controller_manager",
        executable="spawner",
        arguments=gazebo_plan.spawner_arguments(spawn.active, CONTROLLERS_FILE),
        output="screen",
    )
    return [
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            parameters=[{"robot_description": description}],
            output="screen",
        ),
        Node(
            package="controller_manager",
            executable="ros2_control_node",
            parameters=[CONTROLLERS_FILE],  # reads robot_description (robot_state_publisher's)
            output="screen",
        ),
        spawner,
        RegisterEventHandler(OnProcessExit(target_action=spawner, on_exit=_stop_if_failed(spawn.active))),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("body", default_value="male", description="body form: male or female"),
            DeclareLaunchArgument("height", default_value="1.73", description="standing height [m]"),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(os.path.join(SHARE, "launch", "forma.launch.py")),
                launch_arguments={"deployment": "robot_ros2_control", "host": "robot"}.items(),
            ),
            OpaqueFunction(function=_control),
        ]
    )
