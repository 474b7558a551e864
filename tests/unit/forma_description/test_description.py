"""The robot description: every variant expands, passes check_urdf and loads in pinocchio with
the robot of DESIGN §3 (82 joints, 22 per hand, 65 kg, 1.73 m, complete limits)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin
import pytest
import yaml

from forma_description import DescriptionError, RobotModel, available_body_forms, expand_description
from forma_description.limbs import arm_joint_names
from forma_description.paths import share_dir

VARIANTS = [(body, hardware) for body in ("male", "female") for hardware in ("mock", "gazebo", "topic")]
EXPECTED_GROUP_SIZES = {"body": 38, "left_hand": 22, "right_hand": 22}


def _pin_model(urdf: str) -> pin.Model:
    return pin.buildModelFromXML(urdf, pin.JointModelFreeFlyer())


def _standing_height(model: pin.Model) -> float:
    data = model.createData()
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    top = data.oMf[model.getFrameId("head_top")].translation[2]
    sole = data.oMf[model.getFrameId("left_sole")].translation[2]
    return float(top - sole)


def test_body_forms_are_the_shipped_ones():
    assert available_body_forms() == ["female", "male"]


@pytest.mark.parametrize(("body", "hardware"), VARIANTS)
def test_variant_passes_check_urdf(body, hardware, tmp_path):
    assert shutil.which("check_urdf"), "check_urdf missing: make setup installs liburdfdom-tools"
    urdf = expand_description(body=body, hardware=hardware, controllers_file="/tmp/controllers.yaml")
    path = tmp_path / f"forma_{body}_{hardware}.urdf"
    path.write_text(urdf)
    result = subprocess.run(["check_urdf", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully Parsed XML" in result.stdout


@pytest.mark.parametrize("body", ["male", "female"])
def test_pinocchio_loads_82_joints_65kg_173m(body):
    urdf = expand_description(body=body)
    model = _pin_model(urdf)
    assert model.nq == 7 + 82 and model.nv == 6 + 82
    assert sum(model.inertias[i].mass for i in range(model.njoints)) == pytest.approx(65.0, abs=0.5)
    assert _standing_height(model) == pytest.approx(1.73, abs=0.02)
    robot = RobotModel.from_urdf(urdf)
    sizes = {g: len(robot.group_joint_names(g)) for g in EXPECTED_GROUP_SIZES}
    assert sizes == EXPECTED_GROUP_SIZES


def test_height_scaling_scales_the_robot():
    for height in (1.55, 1.90):
        model = _pin_model(expand_description(height_m=height, mass_kg=70.0))
        assert _standing_height(model) == pytest.approx(height, abs=0.02)
        assert sum(i.mass for i in model.inertias) == pytest.approx(70.0, abs=0.5)


def test_body_forms_differ_in_proportions_and_mass_distribution():
    male, female = (RobotModel.from_urdf(expand_description(body=b)) for b in ("male", "female"))
    assert female.link_masses_kg["left_thigh"] > male.link_masses_kg["left_thigh"]
    assert female.link_masses_kg["torso"] < male.link_masses_kg["torso"]
    shoulder = {}
    for name, robot in (("male", male), ("female", female)):
        m = pin.buildModelFromXML(robot.urdf_xml)
        d = m.createData()
        pin.framesForwardKinematics(m, d, pin.neutral(m))
        shoulder[name] = d.oMf[m.getFrameId("left_shoulder_pitch_link")].translation[1]
    assert shoulder["male"] > shoulder["female"] + 0.01


def test_every_joint_has_position_velocity_and_effort_limits(urdf_xml):
    root = ET.fromstring(urdf_xml)
    for joint in root.findall("joint"):
        if joint.get("type") == "fixed":
            continue
        limit = joint.find("limit")
        assert limit is not None, joint.get("name")
        lower, upper = float(limit.get("lower")), float(limit.get("upper"))
        velocity, effort = float(limit.get("velocity")), float(limit.get("effort"))
        assert lower < upper and velocity > 0 and effort > 0, joint.get("name")


def test_joint_names_follow_the_design_table(robot):
    names = set(robot.joint_names)
    for side in ("left", "right"):
        for j in ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll", "toe"):
            assert f"{side}_{j}" in names
        for j in arm_joint_names(side):
            assert j in names
        for j in ("cmc_abd", "cmc_flex", "cmc_rot", "mcp", "ip"):
            assert f"{side}_thumb_{j}" in names
        for finger in ("index", "middle", "ring", "little"):
            for j in ("mcp_abd", "mcp", "pip", "dip"):
                assert f"{side}_{finger}_{j}" in names
        assert f"{side}_palm_arch" in names
    assert {"waist_yaw", "waist_roll", "waist_pitch", "chest_pitch", "neck_yaw", "neck_pitch"} <= names


def test_left_and_right_mirror_each_other(robot):
    """Same number, same anatomical motion: mirrored axes, identical limits."""
    for j in robot.joints:
        if not j.name.startswith("left_"):
            continue
        r = robot.joint("right_" + j.name[5:])
        assert (r.lower, r.upper, r.effort, r.velocity) == (j.lower, j.upper, j.effort, j.velocity)
        np.testing.assert_allclose(r.axis, (-j.axis[0], j.axis[1], -j.axis[2]), atol=1e-9)


def test_sensor_frames_exist(robot):
    frames = set(robot.frames)
    assert {
        "imu_link",
        "left_sole",
        "right_sole",
        "head_camera_color_optical_frame",
        "left_hand",
        "right_hand",
    } <= frames
    for side in ("left", "right"):
        for finger in ("thumb", "index", "middle", "ring", "little"):
            assert f"{side}_{finger}_tip" in frames


@pytest.mark.parametrize("hardware", ["mock", "gazebo", "topic"])
def test_ros2_control_block_names_exactly_the_actuated_joints(hardware):
    urdf = expand_description(hardware=hardware, controllers_file="/c.yaml")
    root = ET.fromstring(urdf)
    blocks = root.findall("ros2_control")
    robot = RobotModel.from_urdf(urdf)
    if hardware == "topic":  # one topic hardware per command group, each with exactly its joints
        groups = {f"forma_{g}": sorted(robot.group_joint_names(g)) for g in ("body", "left_hand", "right_hand")}
        assert {b.get("name"): sorted(j.get("name") for j in b.findall("joint")) for b in blocks} == groups
    else:
        assert len(blocks) == 1
    for block in blocks:
        assert (
            block.find("hardware/plugin").text
            == {
                "mock": "mock_components/GenericSystem",
                "gazebo": "gz_ros2_control/GazeboSimSystem",
                "topic": "joint_state_topic_hardware_interface/JointStateTopicSystem",
            }[hardware]
        )
    joints = [j for b in blocks for j in b.findall("joint")]
    r2c_joints = [j.get("name") for j in joints]
    actuated = robot.joint_names
    assert sorted(r2c_joints) == sorted(actuated) and len(r2c_joints) == len(set(r2c_joints))
    for joint in joints:
        assert [c.get("name") for c in joint.findall("command_interface")] == ["position", "velocity", "effort"]
        assert [s.get("name") for s in joint.findall("state_interface")] == ["position", "velocity", "effort"]
    has_gz_plugin = any(p.get("filename") == "gz_ros2_control-system" for p in root.iter("plugin"))
    assert has_gz_plugin == (hardware == "gazebo")


def test_topic_hardware_streams_no_target_no_one_commanded():
    """Under hardware:=topic the topic hardware of each command group streams every command
    interface of its joints every cycle: a
    position target starts NaN (the hardware contract refuses it until a controller writes one,
    instead of tracking an all-zero pose), velocity and effort start at 0.0 (no velocity target,
    no feed-forward), states start NaN (unknown until measured; a controller seeding from them
    seeds NaN), and no <sensor> is declared: a JointState cannot carry one."""
    blocks = ET.fromstring(expand_description(hardware="topic")).findall("ros2_control")
    for block in blocks:
        assert block.find("hardware/plugin").text == "joint_state_topic_hardware_interface/JointStateTopicSystem"
        params = {p.get("name"): p.text for p in block.findall("hardware/param")}
        assert params == {
            "joint_commands_topic": "hardware/joint_commands",
            "joint_states_topic": "hardware/joint_states",
            "trigger_joint_command_threshold": "-1",
        }
        assert block.findall("sensor") == []
    for joint in [j for b in blocks for j in b.findall("joint")]:
        initial = {
            (kind, i.get("name")): [p.text for p in i.findall("param") if p.get("name") == "initial_value"]
            for kind in ("command_interface", "state_interface")
            for i in joint.findall(kind)
        }
        assert initial[("command_interface", "position")] == [], joint.get("name")
        assert initial[("command_interface", "velocity")] == initial[("command_interface", "effort")] == ["0.0"]
        assert all(v == [] for (kind, _), v in initial.items() if kind == "state_interface"), joint.get("name")
    mock = ET.fromstring(expand_description(hardware="mock")).find("ros2_control")
    assert len(mock.findall("sensor")) == 3  # the IMU and both feet, where the hardware can fill them


def test_rcl_parses_the_controllers_file():
    """What controller_manager (ros2_control_node, gz_ros2_control) and every spawned controller
    read: rcl's own parser must take it (it refuses YAML aliases, which PyYAML accepts)."""
    import rclpy
    from rclpy.context import Context

    path = share_dir("forma_bringup") / "config" / "controllers.yaml"
    assert "&id" not in path.read_text() and "*id" not in path.read_text()
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(path)])
    rclpy.shutdown(context=context)


def test_controllers_yaml_is_generated_from_the_description(robot):
    from forma_description.controllers import controllers_yaml

    committed = (share_dir("forma_bringup") / "config" / "controllers.yaml").read_text()
    assert committed == controllers_yaml(robot), "run: forma describe --format controllers > config/controllers.yaml"


def test_controllers_name_existing_joints_and_interfaces(robot):
    cfg = yaml.safe_load((share_dir("forma_bringup") / "config" / "controllers.yaml").read_text())
    root = ET.fromstring(robot.urdf_xml).find("ros2_control")
    interfaces = {j.get("name"): {c.get("name") for c in j.findall("command_interface")} for j in root.findall("joint")}
    sensors = {s.get("name") for s in root.findall("sensor")}
    manager = cfg["controller_manager"]["ros__parameters"]
    commanded: dict[str, set[str]] = {}
    for name, entry in manager.items():
        if not isinstance(entry, dict):
            continue
        params = cfg.get(name, {}).get("ros__parameters", {})
        for joint in params.get("joints", []):
            assert joint in interfaces, f"{name} names unknown joint {joint}"
            assert params["interface_name"] in interfaces[joint]
            assert params["interface_name"] not in commanded.setdefault(joint, set()), f"{joint} claimed twice"
            commanded[joint].add(params["interface_name"])
        if "sensor_name" in params:
            assert params["sensor_name"] in sensors
    assert set(commanded) == set(robot.joint_names)
    assert all("position" in v for v in commanded.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body": "robot"}, "unknown body form 'robot'; available: female, male"),
        ({"height_m": float("nan")}, "height nan m outside"),
        ({"height_m": 3.0}, "height 3.0 m outside"),
        ({"mass_kg": -1.0}, "mass -1.0 kg outside"),
        ({"hardware": "gz"}, "unknown hardware 'gz'; available: mock, gazebo, topic"),
        ({"prefix": "a-b"}, "prefix 'a-b'"),
    ],
)
def test_bad_description_arguments_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(DescriptionError, match=message.replace("(", r"\(")):
        expand_description(**kwargs)


def test_prefix_applies_to_every_joint_and_link():
    robot = RobotModel.from_urdf(expand_description(prefix="r1_"), prefix="r1_")
    assert all(j.startswith("r1_") for j in robot.joint_names)
    assert all(link.startswith("r1_") for link in robot.link_masses_kg)
    assert len(robot.group_joint_names("left_hand")) == 22


def test_broken_description_xml_is_refused():
    with pytest.raises(DescriptionError, match="not valid XML"):
        RobotModel.from_urdf("<robot><link name='a'>")
    with pytest.raises(DescriptionError, match="lacks one of the position, velocity or effort limits"):
        RobotModel.from_urdf(
            "<robot name='r'><link name='a'/><link name='b'/><joint name='j' type='revolute'>"
            "<parent link='a'/><child link='b'/><limit lower='0' upper='1'/></joint></robot>"
        )
