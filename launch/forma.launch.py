"""Bring up a Forma deployment with launch_ros on a ROS 2 install.

    ros2 launch forma_bringup forma.launch.py deployment:=sim
    ros2 launch forma_bringup forma.launch.py deployment:=/path/to/my.yaml host:=robot
    ros2 launch forma_bringup forma.launch.py params:="console.host=0.0.0.0 sim.world=empty"

The deployment file is the same one `forma launch` reads on the pip side; the mapping from it to
processes is forma_bringup.launch_plan (pure Python, tested without launch_ros). Each
deployment process becomes one launch_ros Node running `forma_process`, which hosts that
process's nodes on one executor.
"""

from __future__ import annotations

import os
import tempfile

from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from forma_bringup.cli import load
from forma_bringup.deployment import with_overrides
from forma_bringup.launch_plan import launch_ros_node_kwargs, plan_host, write_params_files
from launch import LaunchContext, LaunchDescription


def _processes(context: LaunchContext) -> list[Node]:
    overrides = [p for p in LaunchConfiguration("params").perform(context).split() if p]
    deployment = with_overrides(load(LaunchConfiguration("deployment").perform(context)), overrides)
    host = LaunchConfiguration("host").perform(context) or None
    params_dir = tempfile.mkdtemp(prefix=f"forma-{deployment.name}-")
    plans = plan_host(deployment, host, params_dir)
    write_params_files(plans)
    nodes = []
    for plan in plans:
        kwargs = launch_ros_node_kwargs(plan)
        if plan.required and not plan.respawn:
            kwargs["on_exit"] = Shutdown(reason=f"required process {plan.name} exited")
        nodes.append(Node(**kwargs))
    return nodes


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "deployment",
                default_value="sim",
                description="deployment name in share/forma_bringup/config/deployments, or a path to a deployment YAML",
            ),
            DeclareLaunchArgument(
                "host",
                default_value=os.environ.get("FORMA_HOST", ""),
                description="host of a multi-host deployment to start here (default: the only host)",
            ),
            DeclareLaunchArgument(
                "params",
                default_value="",
                description="space-separated NODE.PARAM=VALUE overrides, as `forma launch --param` "
                "(e.g. 'console.host=0.0.0.0 sim.world=empty')",
            ),
            OpaqueFunction(function=_processes),
        ]
    )
