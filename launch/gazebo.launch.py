"""Forma in Gazebo Harmonic with ros2_control (gz_ros2_control) on a ROS 2 Jazzy install.

    ros2 launch forma_bringup gazebo.launch.py
    ros2 launch forma_bringup gazebo.launch.py body:=female height:=1.65 gui:=false

Starts robot_state_publisher with the description expanded for hardware:=gazebo, Gazebo with the
tabletop world (ros_gz_sim gz_sim.launch.py), spawns the robot from robot_description with its
soles on the ground (ros_gz_sim create), bridges clock and sensors to ROS (ros_gz_bridge,
config/gazebo/bridge.yaml) and, once the robot exists, spawns the controllers of
config/controllers.yaml. Everything computed is in forma_bringup.gazebo_plan (pure, tested).
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from forma_bringup import gazebo_plan
from forma_description import expand_description
from launch import LaunchContext, LaunchDescription

SHARE = get_package_share_directory("forma_bringup")
CONTROLLERS_FILE = os.path.join(SHARE, "config", "controllers.yaml")
BRIDGE_FILE = os.path.join(SHARE, "config", "gazebo", "bridge.yaml")
WORLD_FILE = os.path.join(SHARE, "config", "gazebo", "forma_world.sdf")


def _bringup(context: LaunchContext) -> list:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    urdf = expand_description(
        body=arg("body"),
        height_m=gazebo_plan.parse_height(arg("height")),
        hardware="gazebo",
        controllers_file=CONTROLLERS_FILE,
    )
    gz_sim = os.path.join(get_package_share_directory("ros_gz_sim"), "launch", "gz_sim.launch.py")
    create = Node(
        package="ros_gz_sim",
        executable="create",
        arguments=gazebo_plan.create_arguments(gazebo_plan.spawn_height_m(urdf)),
        output="screen",
    )
    controllers = gazebo_plan.load_controller_spawn(CONTROLLERS_FILE)
    spawners = [
        Node(
            package="controller_manager",
            executable="spawner",
            arguments=gazebo_plan.spawner_arguments(names, CONTROLLERS_FILE, inactive=inactive),
            output="screen",
        )
        for names, inactive in ((controllers.active, False), (controllers.inactive, True))
        if names
    ]
    return [
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            parameters=[{"robot_description": urdf, "use_sim_time": True}],
            output="screen",
        ),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(gz_sim),
            launch_arguments={
                "gz_args": gazebo_plan.gz_args(arg("world"), gazebo_plan.parse_bool(arg("gui"), "gui")),
                "on_exit_shutdown": "true",
            }.items(),
        ),
        Node(
            package="ros_gz_bridge",
            executable="parameter_bridge",
            parameters=[{"config_file": BRIDGE_FILE}],
            output="screen",
        ),
        create,
        RegisterEventHandler(OnProcessExit(target_action=create, on_exit=spawners)),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("body", default_value="male", description="body form: male | female"),
            DeclareLaunchArgument(
                "height", default_value="1.73", description="standing height, sole to head top [m]; scales the robot"
            ),
            DeclareLaunchArgument("world", default_value=WORLD_FILE, description="Gazebo world (SDF file)"),
            DeclareLaunchArgument(
                "gui", default_value="true", description="true: Gazebo with its GUI; false: server only (-s)"
            ),
            OpaqueFunction(function=_bringup),
        ]
    )
