"""The real robot under ros2_control: controller_manager with topic_based_ros2_control bridging to
the Forma bus driver's topics, the controllers of config/controllers.yaml, robot_state_publisher.

    ros2 launch forma_bringup robot_ros2_control.launch.py        # on the robot computer

TopicBasedSystem publishes every joint's position/velocity/effort commands, stamped, on
hardware/joint_commands at the controller_manager's rate (trigger_joint_command_threshold -1 in
the URDF: the driver's watchdogs need a steady stream) and reads hardware/joint_states, which the
deployment robot_ros2_control remaps the driver's joint_states to.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from forma_bringup import gazebo_plan
from forma_description import expand_description
from launch import LaunchContext, LaunchDescription

SHARE = get_package_share_directory("forma_bringup")
CONTROLLERS_FILE = os.path.join(SHARE, "config", "controllers.yaml")


def _control(context: LaunchContext) -> list:
    body = LaunchConfiguration("body").perform(context)
    height = gazebo_plan.parse_height(LaunchConfiguration("height").perform(context))
    description = expand_description(body, height, hardware="topic")
    spawn = gazebo_plan.load_controller_spawn(CONTROLLERS_FILE)
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
            parameters=[CONTROLLERS_FILE],
            remappings=[("~/robot_description", "/robot_description")],
            output="screen",
        ),
        Node(
            package="controller_manager",
            executable="spawner",
            arguments=gazebo_plan.spawner_arguments(spawn.active, CONTROLLERS_FILE),
            output="screen",
        ),
        Node(
            package="controller_manager",
            executable="spawner",
            arguments=gazebo_plan.spawner_arguments(spawn.inactive, CONTROLLERS_FILE, inactive=True),
            output="screen",
        ),
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
