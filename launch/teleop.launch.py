"""RViz teleop on a ROS 2 Jazzy install: RViz2 with config/rviz/forma.rviz, the interactive-marker
teleop node (forma_teleop) and robot_state_publisher for /tf.

    ros2 launch forma_bringup teleop.launch.py                       # beside a running sim deployment
    ros2 launch forma_bringup teleop.launch.py teleop:=false         # the robot's deployment runs the node
    ros2 launch forma_bringup teleop.launch.py robot_state_publisher:=false   # gazebo / ros2_control already do

The Forma sim and bus driver publish joint_states and robot_description but no /tf (the pip side
has no tf2), so robot_state_publisher here turns joint_states into /tf for RViz; its copy of the
description (expanded for body / height, which must match the robot's) goes out on
robot_state_publisher/robot_description so that it never replaces the robot's own. Works across
machines on one ROS_DOMAIN_ID: RViz here, the robot (or the pip-side sim) elsewhere.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from forma_bringup.gazebo_plan import parse_bool, parse_height
from forma_description import expand_description
from launch import LaunchContext, LaunchDescription

RVIZ_CONFIG = os.path.join(get_package_share_directory("forma_bringup"), "config", "rviz", "forma.rviz")


def _nodes(context: LaunchContext) -> list[Node]:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    sim_time = parse_bool(arg("use_sim_time"), "use_sim_time")
    nodes = []
    if parse_bool(arg("robot_state_publisher"), "robot_state_publisher"):
        urdf = expand_description(body=arg("body"), height_m=parse_height(arg("height")))
        nodes.append(
            Node(
                package="robot_state_publisher",
                executable="robot_state_publisher",
                parameters=[{"robot_description": urdf, "use_sim_time": sim_time}],
                remappings=[("robot_description", "robot_state_publisher/robot_description")],
                output="screen",
            )
        )
    if parse_bool(arg("teleop"), "teleop"):
        nodes.append(
            Node(
                package="forma_teleop",
                executable="teleop_markers",
                parameters=[{"use_sim_time": sim_time, "frame": arg("frame")}],
                output="screen",
            )
        )
    if parse_bool(arg("rviz"), "rviz"):
        nodes.append(
            Node(
                package="rviz2",
                executable="rviz2",
                arguments=["-d", arg("rviz_config")],
                parameters=[{"use_sim_time": sim_time}],
                output="screen",
            )
        )
    return nodes


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("rviz", default_value="true", description="start RViz2 with rviz_config"),
            DeclareLaunchArgument(
                "rviz_config", default_value=RVIZ_CONFIG, description="RViz2 configuration file (.rviz)"
            ),
            DeclareLaunchArgument(
                "teleop",
                default_value="true",
                description="start the teleop_markers node here (false when the robot's deployment runs it)",
            ),
            DeclareLaunchArgument(
                "frame",
                default_value="base_link",
                description="frame of the markers and of the wbc/targets they publish: base_link or torso",
            ),
            DeclareLaunchArgument(
                "robot_state_publisher",
                default_value="true",
                description="start robot_state_publisher for /tf from joint_states (false when another one runs)",
            ),
            DeclareLaunchArgument(
                "body", default_value="male", description="body form of the robot, for robot_state_publisher"
            ),
            DeclareLaunchArgument(
                "height",
                default_value="1.73",
                description="standing height of the robot [m], for robot_state_publisher",
            ),
            DeclareLaunchArgument(
                "use_sim_time",
                default_value="true",
                description="true beside a simulation (its /clock), false on the real robot",
            ),
            OpaqueFunction(function=_nodes),
        ]
    )
