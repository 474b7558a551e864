"""MoveIt 2 for Forma on a ROS 2 Jazzy install: move_group with the OMPL and Pilz pipelines, RViz2
with the MotionPlanning panel, and robot_state_publisher for /tf.

    ros2 launch forma_moveit_config moveit.launch.py                     # beside a running robot or sim
    ros2 launch forma_moveit_config moveit.launch.py rviz:=false         # move_group only (moveit_py clients)
    ros2 launch forma_moveit_config moveit.launch.py robot_state_publisher:=false   # another one runs

Every parameter comes from forma_moveit_config.params (config/*.yaml, the generated SRDF and the
expanded description), tested on the pip side; this file only passes them on. move_group needs
/joint_states and /tf with odom -> base_link (the SRDF's floating virtual joint); trajectories
execute on the controllers of config/ros2_controllers.yaml (README: load them first).
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from forma_bringup.gazebo_plan import parse_bool, parse_height
from forma_description import expand_description
from forma_moveit_config.params import move_group_parameters
from launch import LaunchContext, LaunchDescription

RVIZ_CONFIG = os.path.join(get_package_share_directory("forma_moveit_config"), "config", "moveit.rviz")


def _nodes(context: LaunchContext) -> list[Node]:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    sim_time = parse_bool(arg("use_sim_time"), "use_sim_time")
    urdf = expand_description(body=arg("body"), height_m=parse_height(arg("height")))
    params = move_group_parameters(urdf)
    nodes = [
        Node(
            package="moveit_ros_move_group",
            executable="move_group",
            parameters=[params, {"use_sim_time": sim_time}],
            output="screen",
        )
    ]
    if parse_bool(arg("robot_state_publisher"), "robot_state_publisher"):
        nodes.append(
            Node(
                package="robot_state_publisher",
                executable="robot_state_publisher",
                parameters=[{"robot_description": urdf, "use_sim_time": sim_time}],
                remappings=[("robot_description", "robot_state_publisher/robot_description")],
                output="screen",
            )
        )
    if parse_bool(arg("rviz"), "rviz"):
        rviz_params = {
            key: params[key]
            for key in ("robot_description", "robot_description_semantic", "robot_description_kinematics")
        }
        nodes.append(
            Node(
                package="rviz2",
                executable="rviz2",
                arguments=["-d", arg("rviz_config")],
                parameters=[rviz_params, {"use_sim_time": sim_time}],
                output="screen",
            )
        )
    return nodes


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "rviz", default_value="true", description="start RViz2 with the MotionPlanning panel"
            ),
            DeclareLaunchArgument(
                "rviz_config", default_value=RVIZ_CONFIG, description="RViz2 configuration file (.rviz)"
            ),
            DeclareLaunchArgument(
                "robot_state_publisher",
                default_value="true",
                description="start robot_state_publisher for /tf from joint_states (false when another one runs)",
            ),
            DeclareLaunchArgument("body", default_value="male", description="body form of the robot (male, female)"),
            DeclareLaunchArgument("height", default_value="1.73", description="standing height of the robot [m]"),
            DeclareLaunchArgument(
                "use_sim_time",
                default_value="true",
                description="true beside a simulation (its /clock), false on the real robot",
            ),
            OpaqueFunction(function=_nodes),
        ]
    )
