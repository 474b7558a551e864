"""ros2_control over the topic hardware (forma_bringup.ros2_control_plan): which controllers the
topic path spawns and why the sensor broadcasters are not among them, that every one of them finds
its interfaces in the description expanded for hardware:=topic, that a failed spawner stops the
bringup, and that the robot_ros2_control deployment remaps the hardware node as the plan says."""

from __future__ import annotations

import ast
import pathlib
import xml.etree.ElementTree as ET

import pytest
import yaml

from forma_bringup import gazebo_plan
from forma_bringup.cli import load
from forma_bringup.gazebo_plan import GazeboPlanError
from forma_bringup.ros2_control_plan import (
    HARDWARE_NODE_REMAPPINGS,
    SENSOR_BROADCASTER_TYPES,
    spawner_failure,
    topic_controller_spawn,
)
from forma_description import expand_description

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIG = yaml.safe_load((REPO / "config" / "controllers.yaml").read_text())


def test_the_topic_path_spawns_every_controller_but_the_sensor_broadcasters_all_active():
    spawn = topic_controller_spawn(CONFIG)
    types = gazebo_plan.controller_types(CONFIG)
    assert spawn.inactive == ()
    assert spawn.active == tuple(n for n, t in types.items() if t not in SENSOR_BROADCASTER_TYPES)
    assert spawn.active[0] == "joint_state_broadcaster"
    assert {"body_position_controller", "body_velocity_controller", "body_effort_controller"} <= set(spawn.active)
    with pytest.raises(GazeboPlanError, match="joint_state_broadcaster"):
        topic_controller_spawn({"controller_manager": {"ros__parameters": {"x": {"type": "a/B"}}}})


def test_every_spawned_controller_finds_its_interfaces_under_hardware_topic():
    blocks = ET.fromstring(expand_description(hardware="topic")).findall("ros2_control")
    joints = [j for b in blocks for j in b.findall("joint")]
    commands = {(j.get("name"), c.get("name")) for j in joints for c in j.findall("command_interface")}
    for name in topic_controller_spawn(CONFIG).active:
        params = CONFIG.get(name, {}).get("ros__parameters", {})
        for joint in params.get("joints", []):
            assert (joint, params["interface_name"]) in commands, f"{name}: {joint}/{params['interface_name']}"
    # the dropped broadcasters would find no sensor: the description has none under topic
    assert [s for b in blocks for s in b.findall("sensor")] == []
    dropped = [n for n, t in gazebo_plan.controller_types(CONFIG).items() if t in SENSOR_BROADCASTER_TYPES]
    assert sorted(dropped) == ["imu_sensor_broadcaster", "left_foot_ft_broadcaster", "right_foot_ft_broadcaster"]


def test_a_failed_spawner_is_a_reason_to_stop():
    assert spawner_failure(["a", "b"], 0) == ""
    reason = spawner_failure(["a", "b"], 1)
    assert "a, b" in reason and "code 1" in reason and "never loaded" in reason


def test_the_robot_ros2_control_deployment_remaps_the_hardware_node():
    deployment = load("robot_ros2_control")
    hardware = [n for p in deployment.processes("robot") for n in p.nodes if n.node in ("bus_driver", "sim")]
    assert len(hardware) == 1
    assert hardware[0].remappings == HARDWARE_NODE_REMAPPINGS


def test_the_launch_file_spawns_the_topic_path_and_stops_on_a_failed_spawner():
    source = (REPO / "launch" / "robot_ros2_control.launch.py").read_text()
    called = {n.attr for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Attribute)}
    called |= {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    assert {"topic_controller_spawn", "spawner_failure", "OnProcessExit", "Shutdown"} <= called
    assert "load_controller_spawn" not in called  # the Gazebo list would spawn the sensor broadcasters


def test_the_robot_ros2_control_deployment_commands_through_the_controllers():
    """The supervisor, the WBC and the hands send to controllers/joint_commands, which only
    controller_commands reads: nothing but the topic hardware writes hardware/joint_commands."""
    nodes = {n.node: n for p in load("robot_ros2_control").processes("robot") for n in p.nodes}
    assert {"safety_supervisor", "wbc", "hands", "controller_commands"} <= set(nodes)
    for commander in ("safety_supervisor", "wbc", "hands"):
        assert nodes[commander].remappings == {"hardware/joint_commands": "controllers/joint_commands"}, commander
    assert "stand" not in nodes  # the supervisor stands the robot up, through the controllers
