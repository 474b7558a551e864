"""The default deployment, `sim`: MuJoCo simulation, joint-PD stand and browser view.

ros2 launch forma_bringup sim.launch.py
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    forma_launch = os.path.join(get_package_share_directory("forma_bringup"), "launch", "forma.launch.py")
    return LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(forma_launch),
                launch_arguments={"deployment": "sim"}.items(),
            ),
        ]
    )
