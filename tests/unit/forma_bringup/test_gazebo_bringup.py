"""Gazebo Harmonic bringup (launch/gazebo.launch.py, config/gazebo/), checked structurally.

Gazebo, ros_gz and gz_ros2_control cannot run on the pip side, so the world, the bridge
configuration, the controller list, the spawn pose and the launch file are checked here against
the robot description, config/controllers.yaml, config/worlds/tabletop.xml and the topic names
the Forma nodes use (see docs/VERIFICATION.md for what was checked how).
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin
import pytest
import yaml

from forma_bringup import gazebo_plan
from forma_bringup.gazebo_plan import GazeboPlanError
from forma_description import HARDWARE_PLUGINS, expand_description
from forma_description.paths import share_dir

REPO = pathlib.Path(__file__).resolve().parents[3]
WORLD = REPO / "config" / "gazebo" / "forma_world.sdf"
BRIDGE = REPO / "config" / "gazebo" / "bridge.yaml"
CONTROLLERS = REPO / "config" / "controllers.yaml"
TABLETOP = REPO / "config" / "worlds" / "tabletop.xml"
LAUNCH = REPO / "launch" / "gazebo.launch.py"

SYSTEMS = {
    "gz-sim-physics-system": "gz::sim::systems::Physics",
    "gz-sim-user-commands-system": "gz::sim::systems::UserCommands",
    "gz-sim-scene-broadcaster-system": "gz::sim::systems::SceneBroadcaster",
    "gz-sim-sensors-system": "gz::sim::systems::Sensors",
    "gz-sim-imu-system": "gz::sim::systems::Imu",
    "gz-sim-forcetorque-system": "gz::sim::systems::ForceTorque",
    "gz-sim-contact-system": "gz::sim::systems::Contact",
}
# The names and types the Forma nodes use with the MuJoCo sim (README topic table, sim_node).
FORMA_TOPICS = {
    "/clock": "rosgraph_msgs/msg/Clock",
    "imu/data": "sensor_msgs/msg/Imu",
    "feet/left/wrench": "geometry_msgs/msg/WrenchStamped",
    "feet/right/wrench": "geometry_msgs/msg/WrenchStamped",
    "head_camera/color/image_raw": "sensor_msgs/msg/Image",
    "head_camera/depth/image_raw": "sensor_msgs/msg/Image",
    "head_camera/color/camera_info": "sensor_msgs/msg/CameraInfo",
    "head_camera/depth/camera_info": "sensor_msgs/msg/CameraInfo",
}
# ROS type -> Gazebo type pairs ros_gz_bridge converts (its README, jazzy branch).
BRIDGE_PAIRS = {
    "rosgraph_msgs/msg/Clock": "gz.msgs.Clock",
    "sensor_msgs/msg/Imu": "gz.msgs.IMU",
    "geometry_msgs/msg/WrenchStamped": "gz.msgs.Wrench",
    "sensor_msgs/msg/Image": "gz.msgs.Image",
    "sensor_msgs/msg/CameraInfo": "gz.msgs.CameraInfo",
}
EXPECTED_ACTIVE = {
    "joint_state_broadcaster",
    "imu_sensor_broadcaster",
    "left_foot_ft_broadcaster",
    "right_foot_ft_broadcaster",
    "body_position_controller",
    "left_hand_position_controller",
    "right_hand_position_controller",
}


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split()]


@pytest.fixture(scope="module")
def world() -> ET.Element:
    root = ET.parse(WORLD).getroot()
    assert root.tag == "sdf" and root.get("version") == "1.9"
    worlds = root.findall("world")
    assert len(worlds) == 1
    return worlds[0]


@pytest.fixture(scope="module")
def gazebo_urdf() -> str:
    return expand_description(hardware="gazebo", controllers_file=str(CONTROLLERS))


@pytest.fixture(scope="module")
def controllers_config() -> dict:
    return yaml.safe_load(CONTROLLERS.read_text())


# --- world ----------------------------------------------------------------------------------
def test_world_has_the_systems_physics_and_gravity(world):
    plugins = {p.get("filename"): p for p in world.findall("plugin")}
    assert {f: p.get("name") for f, p in plugins.items()} == SYSTEMS
    assert plugins["gz-sim-sensors-system"].findtext("render_engine") == "ogre2"
    physics = world.findall("physics")
    assert len(physics) == 1
    assert float(physics[0].findtext("max_step_size")) == 0.001
    assert float(physics[0].findtext("real_time_factor")) == 1.0
    assert floats(world.findtext("gravity")) == [0.0, 0.0, -9.81]
    assert world.find("light[@name='sun']").get("type") == "directional"
    ground = world.find("model[@name='ground_plane']")
    assert ground.findtext("static") == "true"
    assert floats(ground.findtext("link/collision/geometry/plane/normal")) == [0.0, 0.0, 1.0]


def test_controller_period_is_a_whole_number_of_physics_steps(world, controllers_config):
    rate = controllers_config["controller_manager"]["ros__parameters"]["update_rate"]
    steps = (1.0 / rate) / float(world.findtext("physics/max_step_size"))
    assert steps >= 1 and steps == pytest.approx(round(steps))


def _mjcf_objects() -> dict[str, dict]:
    """Free bodies of tabletop.xml: position, SDF-style size, mass, rgba, sliding friction."""
    root = ET.parse(TABLETOP).getroot()
    friction = float(root.find("default/default[@class='object']/geom").get("friction").split()[0])
    objects = {}
    for body in root.find("worldbody").findall("body"):
        if body.find("freejoint") is None:
            continue
        geom = body.find("geom")
        half = floats(geom.get("size"))
        size = {
            "box": lambda h: [2 * v for v in h],
            "cylinder": lambda h: [h[0], 2 * h[1]],  # radius, length
            "sphere": lambda h: [h[0]],
        }[geom.get("type")](half)
        objects[body.get("name")] = {
            "pos": floats(body.get("pos")),
            "type": geom.get("type"),
            "size": size,
            "mass": float(geom.get("mass")),
            "rgba": floats(geom.get("rgba")),
            "friction": friction,
        }
    return objects


def _sdf_shape(geometry: ET.Element) -> tuple[str, list[float]]:
    if geometry.find("box") is not None:
        return "box", floats(geometry.findtext("box/size"))
    if geometry.find("cylinder") is not None:
        return "cylinder", [float(geometry.findtext("cylinder/radius")), float(geometry.findtext("cylinder/length"))]
    return "sphere", [float(geometry.findtext("sphere/radius"))]


def _solid_inertia(kind: str, size: list[float], m: float) -> list[float]:
    if kind == "box":
        x, y, z = size
        return [m * (y * y + z * z) / 12, m * (x * x + z * z) / 12, m * (x * x + y * y) / 12]
    if kind == "cylinder":
        r, h = size
        return [m * (3 * r * r + h * h) / 12] * 2 + [m * r * r / 2]
    return [2 * m * size[0] ** 2 / 5] * 3


def test_world_objects_are_those_of_tabletop(world):
    expected = _mjcf_objects()
    assert len(expected) == 6
    models = {m.get("name"): m for m in world.findall("model")}
    assert set(models) == set(expected) | {"ground_plane", "table"}
    for name, obj in expected.items():
        model = models[name]
        assert model.findtext("static") in (None, "false"), name
        pose = floats(model.findtext("pose"))
        assert pose[:3] == pytest.approx(obj["pos"]) and pose[3:] == [0, 0, 0], name
        link = model.find("link")
        mass = float(link.findtext("inertial/mass"))
        assert mass == pytest.approx(obj["mass"]), name
        for part in ("collision", "visual"):
            kind, size = _sdf_shape(link.find(f"{part}/geometry"))
            assert (kind, size) == (obj["type"], pytest.approx(obj["size"])), (name, part)
        assert floats(link.findtext("visual/material/diffuse")) == pytest.approx(obj["rgba"]), name
        assert float(link.findtext("collision/surface/friction/ode/mu")) == obj["friction"], name
        inertia = [float(link.findtext(f"inertial/inertia/{k}")) for k in ("ixx", "iyy", "izz")]
        assert inertia == pytest.approx(_solid_inertia(kind, size, mass), rel=1e-4), name


def test_world_table_is_that_of_tabletop(world):
    root = ET.parse(TABLETOP).getroot()
    body = root.find("worldbody/body[@name='table']")
    rgba = floats(root.find("default/default[@class='table']/geom").get("rgba"))
    table = world.find("model[@name='table']")
    assert table.findtext("static") == "true"
    assert floats(table.findtext("pose"))[:3] == pytest.approx(floats(body.get("pos")))
    link = table.find("link")
    for geom in body.findall("geom"):
        name = geom.get("name")
        for part in ("collision", "visual"):
            elem = link.find(f"{part}[@name='{name}']")
            assert elem is not None, (name, part)
            assert floats(elem.findtext("pose"))[:3] == pytest.approx(floats(geom.get("pos"))), name
            size = [2 * v for v in floats(geom.get("size"))]
            assert _sdf_shape(elem.find("geometry")) == ("box", pytest.approx(size)), name
        assert floats(link.find(f"visual[@name='{name}']").findtext("material/diffuse")) == pytest.approx(rgba)
    # The top surface is at 0.75 m, its front edge 0.30 m in front of the pelvis (spawned at x = 0).
    top = link.find("collision[@name='table_top']")
    x0 = floats(table.findtext("pose"))[0]
    z, sx, sz = floats(top.findtext("pose"))[2], *floats(top.findtext("geometry/box/size"))[::2]
    assert z + sz / 2 == pytest.approx(0.75) and x0 - sx / 2 == pytest.approx(0.30)


# --- bridge ---------------------------------------------------------------------------------
def test_bridge_entries_are_valid_with_std_ros_types():
    entries = gazebo_plan.load_bridge(BRIDGE)
    for e in entries:
        assert e["direction"] == "GZ_TO_ROS", e  # sensors and clock only flow out of Gazebo
        assert BRIDGE_PAIRS[e["ros_type_name"]] == e["gz_type_name"], e
        package, kind, name = e["ros_type_name"].split("/")
        assert kind == "msg" and package in ("sensor_msgs", "geometry_msgs", "rosgraph_msgs", "std_msgs")
        assert hasattr(importlib.import_module(f"{package}.msg"), name), e["ros_type_name"]


def test_bridge_ros_topics_are_those_the_forma_nodes_use():
    assert gazebo_plan.bridge_topics(gazebo_plan.load_bridge(BRIDGE)) == FORMA_TOPICS
    sim_node = (REPO / "src" / "forma_sim" / "forma_sim" / "sim_node.py").read_text()
    for topic in ("color/image_raw", "depth/image_raw", "color/camera_info", "depth/camera_info"):
        assert f'{{cam}}/{topic}"' in sim_node, topic


def test_bridge_gz_topics_are_published_by_the_robot_sensors(gazebo_urdf):
    published = gazebo_plan.gz_sensor_topics(gazebo_urdf)
    assert published["imu/data"] == "imu_sensor"
    assert published["feet/left/wrench"] == "left_foot_ft" and published["feet/right/wrench"] == "right_foot_ft"
    assert published["head_camera/depth_image"] == "head_camera"
    for e in gazebo_plan.load_bridge(BRIDGE):
        assert e["gz_topic_name"] == "/clock" or e["gz_topic_name"] in published, e


def test_bridge_validation_names_entry_and_field():
    good = {k: "x" for k in gazebo_plan.BRIDGE_KEYS} | {"direction": "GZ_TO_ROS"}
    assert gazebo_plan.bridge_entries([good]) == [good]
    with pytest.raises(GazeboPlanError, match=r"b.yaml\[0\]: direction 'GZ_TO_ROSS'"):
        gazebo_plan.bridge_entries([good | {"direction": "GZ_TO_ROSS"}], "b.yaml")
    with pytest.raises(GazeboPlanError, match=r"\[1\]: missing gz_type_name"):
        gazebo_plan.bridge_entries([good, {k: v for k, v in good.items() if k != "gz_type_name"}])
    with pytest.raises(GazeboPlanError, match="bridged twice"):
        gazebo_plan.bridge_entries([good, good])
    with pytest.raises(GazeboPlanError, match="non-empty list"):
        gazebo_plan.bridge_entries({"ros_topic_name": "x"})


# --- controllers ----------------------------------------------------------------------------
def test_spawned_controllers_are_those_of_controllers_yaml(controllers_config):
    declared = gazebo_plan.controller_types(controllers_config)
    spawn = gazebo_plan.load_controller_spawn(CONTROLLERS)
    assert sorted(spawn.all) == sorted(declared)  # each declared one spawned, nothing else
    assert set(spawn.active) == EXPECTED_ACTIVE
    assert set(spawn.inactive) == set(gazebo_plan.INACTIVE_CONTROLLERS)
    # One body command mode active at a time: the active forward controllers claim disjoint joints.
    claimed = [
        j
        for n in spawn.active
        if declared[n] == "forward_command_controller/ForwardCommandController"
        for j in controllers_config[n]["ros__parameters"]["joints"]
    ]
    assert len(claimed) == len(set(claimed)) == 38 + 2 * 22
    with pytest.raises(GazeboPlanError, match="no controller named nope"):
        gazebo_plan.controller_spawn(controllers_config, inactive=["nope"])


def test_spawner_arguments():
    args = gazebo_plan.spawner_arguments(["a", "b"], "/c.yaml", inactive=True)
    assert args == ["a", "b", "--controller-manager", "/controller_manager", "--param-file", "/c.yaml", "--inactive"]
    assert "--inactive" not in gazebo_plan.spawner_arguments(["a"], "/c.yaml")
    with pytest.raises(GazeboPlanError):
        gazebo_plan.spawner_arguments([], "/c.yaml")


def test_sensor_broadcasters_name_sensors_of_ros2_control_and_gazebo(gazebo_urdf, controllers_config):
    """gz_ros2_control exports a sensor's state interfaces when the Gazebo sensor's name equals
    the <ros2_control> <sensor> name; the broadcasters read them by sensor_name."""
    root = ET.fromstring(gazebo_urdf)
    r2c_sensors = {s.get("name"): s for s in root.findall("ros2_control/sensor")}
    gz_sensors = {s.get("name") for s in root.iter("sensor") if s.get("type") in ("imu", "force_torque")}
    declared = gazebo_plan.controller_types(controllers_config)
    broadcasters = {
        n: controllers_config[n]["ros__parameters"]["sensor_name"]
        for n, t in declared.items()
        if t.startswith(("imu_sensor_broadcaster/", "force_torque_sensor_broadcaster/"))
    }
    assert set(broadcasters) == {"imu_sensor_broadcaster", "left_foot_ft_broadcaster", "right_foot_ft_broadcaster"}
    for controller, sensor in broadcasters.items():
        assert sensor in r2c_sensors and sensor in gz_sensors, controller
    for side in ("left", "right"):
        names = {i.get("name") for i in r2c_sensors[f"{side}_foot_ft"].findall("state_interface")}
        assert names == {f"{a}.{x}" for a in ("force", "torque") for x in "xyz"}


# --- robot description and spawn pose ------------------------------------------------------
def test_gazebo_description_names_the_plugin_and_an_existing_controllers_file(gazebo_urdf):
    root = ET.fromstring(gazebo_urdf)
    assert root.findtext("ros2_control/hardware/plugin") == HARDWARE_PLUGINS["gazebo"]
    plugins = [p for g in root.findall("gazebo") for p in g.findall("plugin")]
    assert len(plugins) == 1
    assert plugins[0].get("filename") == "gz_ros2_control-system"
    assert plugins[0].get("name") == "gz_ros2_control::GazeboSimROS2ControlPlugin"
    parameters = plugins[0].findtext("parameters").strip()
    assert pathlib.Path(parameters).is_file() and pathlib.Path(parameters).samefile(CONTROLLERS)
    # The launch file points at the installed copy; it must be there and be the same file.
    installed = share_dir("forma_bringup") / "config"
    assert (installed / "controllers.yaml").read_text() == CONTROLLERS.read_text()
    for name in ("forma_world.sdf", "bridge.yaml"):
        assert (installed / "gazebo" / name).read_text() == (REPO / "config" / "gazebo" / name).read_text()
    assert (share_dir("forma_bringup") / "launch" / "gazebo.launch.py").is_file()


@pytest.mark.parametrize(("body", "height"), [("male", 1.73), ("female", 1.55), ("male", 1.90)])
def test_spawn_height_puts_the_soles_on_the_ground(body, height):
    urdf = expand_description(body=body, height_m=height, hardware="gazebo", controllers_file=str(CONTROLLERS))
    z = gazebo_plan.spawn_height_m(urdf)
    model = pin.buildModelFromXML(urdf, pin.JointModelFreeFlyer())
    data = model.createData()
    q = pin.neutral(model)
    q[:3] = [0.0, 0.0, z]
    pin.framesForwardKinematics(model, data, q)
    for sole in gazebo_plan.SOLE_FRAMES:
        sole_z = data.oMf[model.getFrameId(sole)].translation[2]
        assert 0.0 <= sole_z <= 0.02, (sole, sole_z)
    if height == 1.73:
        assert z == pytest.approx(1.02, abs=0.01)
    assert gazebo_plan.create_arguments(z)[-2:] == ["-z", f"{z:.4f}"]


def test_frame_position_follows_the_joint_origins(robot):
    urdf = robot.urdf_xml
    model = pin.buildModelFromXML(urdf)
    data = model.createData()
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    for frame in ("head_camera_color_optical_frame", "left_index_tip", "right_toe_link", "imu_link"):
        expected = data.oMf[model.getFrameId(frame)].translation
        assert np.allclose(gazebo_plan.frame_position_m(urdf, frame), expected, atol=1e-9), frame
    with pytest.raises(GazeboPlanError, match="no link or frame 'nope'"):
        gazebo_plan.frame_position_m(urdf, "nope")


# --- launch file ----------------------------------------------------------------------------
def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    def called(c: ast.Call) -> str:
        return c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", "")

    return [c for c in ast.walk(tree) if isinstance(c, ast.Call) and called(c) == name]


def test_launch_file_is_typed_described_and_built_on_the_plan():
    tree = ast.parse(LAUNCH.read_text())
    gen = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "generate_launch_description"]
    assert gen and ast.unparse(gen[0].returns) == "LaunchDescription"
    declared = {}
    for call in _calls(tree, "DeclareLaunchArgument"):
        kw = {k.arg: k.value for k in call.keywords}
        assert "description" in kw and ast.literal_eval(kw["description"]).strip(), ast.unparse(call)
        declared[ast.literal_eval(call.args[0])] = kw
    assert set(declared) == {"body", "height", "world", "gui"}
    assert ast.unparse(declared["world"]["default_value"]) == "WORLD_FILE"
    nodes = set()
    for call in _calls(tree, "Node"):
        kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in ("package", "executable")}
        nodes.add((kw["package"], kw["executable"]))
    assert nodes == {
        ("robot_state_publisher", "robot_state_publisher"),
        ("ros_gz_sim", "create"),
        ("ros_gz_bridge", "parameter_bridge"),
        ("controller_manager", "spawner"),
    }
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and ast.unparse(n.value) == "gazebo_plan"}
    assert {"spawn_height_m", "create_arguments", "load_controller_spawn", "spawner_arguments", "gz_args"} <= used
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    files = {"gz_sim.launch.py", "controllers.yaml", "bridge.yaml", "forma_world.sdf"}
    assert files | {"gz_args", "config_file"} <= strings
    assert _calls(tree, "OnProcessExit"), "the controllers are spawned once `create` has exited"
    (expand,) = _calls(tree, "expand_description")
    constants = {k.arg: k.value.value for k in expand.keywords if isinstance(k.value, ast.Constant)}
    assert constants.get("hardware") == "gazebo"
    assert "controllers_file" in {k.arg for k in expand.keywords}


def test_gz_args_and_launch_argument_parsing():
    assert gazebo_plan.gz_args("/w.sdf", gui=True) == "-r /w.sdf"
    assert gazebo_plan.gz_args("/w.sdf", gui=False) == "-r -s /w.sdf"
    assert gazebo_plan.parse_bool("True", "gui") is True and gazebo_plan.parse_bool("false", "gui") is False
    with pytest.raises(GazeboPlanError, match="gui: expected true or false, got 'yes'"):
        gazebo_plan.parse_bool("yes", "gui")
    assert gazebo_plan.parse_height("1.65") == 1.65
    with pytest.raises(GazeboPlanError, match="height"):
        gazebo_plan.parse_height("tall")
