"""The MoveIt configuration, checked on the pip side (no MoveIt here): every file parses, the files
a ROS node reads go through rcl's own parser, every name resolves against the description,
pinocchio reads the SRDF, the generated files are what their generators write, and the collision
matrix is reproducible and holds on fresh samples."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pinocchio as pin
import pytest
import rclpy
import yaml
from rclpy.context import Context

from forma_description.robot_model import RobotModel
from forma_description.xacro_expand import expand_description
from forma_moveit_config import collision_matrix as cm
from forma_moveit_config import params, semantic
from forma_moveit_config.errors import MoveItConfigError
from forma_moveit_config.paths import config_dir, srdf_path

REPO = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = REPO / "src" / "forma_moveit_config"
LAUNCH = PACKAGE / "launch" / "moveit.launch.py"
EXAMPLE = PACKAGE / "examples" / "moveit_py_reach.py"
YAMLS = sorted(p.name for p in (PACKAGE / "config").glob("*.yaml"))
PREFIX_SAMPLES = 3000  # the committed matrix is regenerated in full by `--check` (18 s), here by prefix
FRESH_SEED, FRESH_SAMPLES = 20261207, 5000


@pytest.fixture(scope="module")
def urdf() -> str:
    return expand_description()


@pytest.fixture(scope="module")
def robot(urdf) -> RobotModel:
    return RobotModel.from_urdf(urdf)


@pytest.fixture(scope="module")
def srdf_text() -> str:
    return srdf_path().read_text()


@pytest.fixture(scope="module")
def srdf(srdf_text) -> semantic.Srdf:
    return semantic.parse_srdf(srdf_text)


@pytest.fixture(scope="module")
def links_joints(urdf) -> tuple[set[str], set[str]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(urdf)
    return {e.get("name") for e in root.findall("link")}, {e.get("name") for e in root.findall("joint")}


def rcl_parse(path: pathlib.Path) -> None:
    """Parse `path` as `--ros-args --params-file` does at a node's start; raises if refused."""
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(path)])
    rclpy.shutdown(context=context)


@pytest.mark.parametrize("name", YAMLS)
def test_every_yaml_parses_to_a_mapping(name):
    assert isinstance(yaml.safe_load((PACKAGE / "config" / name).read_text()), dict)


def test_the_config_dir_holds_this_checkouts_files():
    """config_dir() is the source config/ in a checkout, the installed share copy otherwise (CI's
    fresh install): either way, the files of this checkout."""
    assert {"kinematics.yaml", "joint_limits.yaml", "ompl_planning.yaml", "moveit_controllers.yaml"} <= set(YAMLS)
    for path in (PACKAGE / "config").iterdir():
        assert (config_dir() / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("which", ["move_group", "moveit_py"])
def test_rcl_parses_the_parameters_the_nodes_get(which, tmp_path, urdf):
    """What launch_ros writes for move_group (and moveit_py for itself) from the dict: one params file."""
    build = params.move_group_parameters if which == "move_group" else params.moveit_py_parameters
    path = tmp_path / f"{which}.yaml"
    path.write_text(params.dump({"/**": {"ros__parameters": build(urdf)}}))
    rcl_parse(path)


def test_rcl_parses_ros2_controllers_yaml():
    rcl_parse(PACKAGE / "config" / "ros2_controllers.yaml")


def test_rcl_check_can_fail(tmp_path):
    bad = tmp_path / "aliased.yaml"
    bad.write_text("a:\n  ros__parameters:\n    j: &x [p, q]\nb:\n  ros__parameters:\n    j: *x\n")
    with pytest.raises(Exception, match="params file"):
        rcl_parse(bad)


def test_generated_yamls_are_current(robot):
    for name in params.GENERATED:
        committed = (PACKAGE / "config" / name).read_text()
        assert committed == params.generated_text(name, robot), (
            f"regenerate: python -m forma_moveit_config.params ({name})"
        )


# --- names against the description ---------------------------------------------------------------


def test_srdf_groups_resolve_against_the_urdf(srdf, robot, links_joints):
    links, joints = links_joints
    expected = {g.name for g in semantic.groups(robot)}
    assert set(srdf.groups) == expected
    for name, el in srdf.groups.items():
        for chain in el.findall("chain"):
            assert chain.get("base_link") in links and chain.get("tip_link") in links, name
        for j in el.findall("joint"):
            assert j.get("name") in joints, f"{name}: {j.get('name')}"
        for sub in el.findall("group"):
            assert sub.get("name") in srdf.groups, f"{name}: subgroup {sub.get('name')}"


def test_arm_groups_run_from_scapula_to_wrist(robot):
    for side in semantic.SIDES:
        assert params.group_joints(robot, f"{side}_arm") == [f"{side}_{k}" for k in semantic.ARM_JOINTS]
    assert params.group_joints(robot, "torso") == ["waist_yaw", "waist_roll", "waist_pitch", "chest_pitch"]
    assert params.group_joints(robot, "head") == ["neck_yaw", "neck_pitch"]
    assert len(params.group_joints(robot, "left_hand")) == 22
    assert params.group_joints(robot, "right_leg")[0] == "right_hip_yaw"
    assert params.group_joints(robot, "right_leg")[-1] == "right_toe"
    assert sorted(params.group_joints(robot, "whole_body")) == sorted(robot.joint_names)
    with pytest.raises(MoveItConfigError, match="groups: left_arm"):
        params.group_joints(robot, "left_arms")


def test_end_effectors_and_virtual_joint(srdf, links_joints, robot):
    links, _ = links_joints
    for ee in srdf.end_effectors:
        assert ee["parent_link"] in links and ee["group"] in srdf.groups and ee["parent_group"] in srdf.groups
        assert ee["parent_link"] not in {
            j.child for j in robot.joints if j.name in params.group_joints(robot, ee["group"])
        }
    assert [v["child_link"] for v in srdf.virtual_joints] == ["base_link"]
    assert srdf.virtual_joints[0]["type"] == "floating"


def test_named_states_within_limits(srdf, robot):
    assert {name for name, _ in srdf.group_states} == {"stand", "ready", "carry", "wave"}
    for (name, group), joints in srdf.group_states.items():
        allowed = set(params.group_joints(robot, group))
        for joint, value in joints.items():
            assert joint in allowed, f"{name}: {joint} not in group {group}"
            info = robot.joint(joint)
            assert info.lower <= value <= info.upper, f"{name}: {joint} = {value}"


def test_named_states_mean_what_they_say(srdf, urdf):
    """wave: right palm above the right shoulder; ready and carry: both palms in front of the torso."""
    model = pin.buildModelFromXML(urdf)
    data = model.createData()

    def frame(state: str, group: str, name: str) -> np.ndarray:
        q = pin.neutral(model)
        for joint, value in srdf.group_states[(state, group)].items():
            q[model.joints[model.getJointId(joint)].idx_q] = value
        pin.framesForwardKinematics(model, data, q)
        return data.oMf[model.getFrameId(name)].translation

    assert frame("wave", "right_arm", "right_hand")[2] > frame("wave", "right_arm", "right_shoulder_roll_link")[2] + 0.1
    for state in ("ready", "carry"):
        for side in semantic.SIDES:
            assert frame(state, "arms", f"{side}_hand")[0] > frame(state, "arms", "torso")[0] + 0.2


def test_yaml_names_resolve(robot, srdf, links_joints):
    _, joints = links_joints
    groups = set(srdf.groups)
    kinematics = params.load("kinematics.yaml")
    assert set(kinematics) <= groups
    for group, cfg in kinematics.items():
        assert cfg["kinematics_solver"] in {"kdl_kinematics_plugin/KDLKinematicsPlugin", "pick_ik/PickIkPlugin"}
        assert not srdf.groups[group].findall("group"), f"{group}: an IK solver needs a chain"
    ompl = params.load("ompl_planning.yaml")
    configs = set(ompl["planner_configs"])
    for group, cfg in ompl.items():
        if isinstance(cfg, dict) and "planner_configs" in cfg and group != "planner_configs":
            assert group in groups
            assert set(cfg["planner_configs"]) <= configs
    limits = params.load("joint_limits.yaml")["joint_limits"]
    assert set(limits) == set(robot.joint_names)
    for joint, lim in limits.items():
        assert lim["has_acceleration_limits"] and lim["max_acceleration"] > 0
        assert lim["max_velocity"] == robot.joint(joint).velocity
    controllers = params.load("moveit_controllers.yaml")["moveit_simple_controller_manager"]
    ros2 = params.load("ros2_controllers.yaml")
    for name in controllers["controller_names"]:
        assert set(controllers[name]["joints"]) <= joints
        assert ros2[name]["ros__parameters"]["joints"] == controllers[name]["joints"]
        assert name in ros2["controller_manager"]["ros__parameters"]


def test_trajectory_controllers_claim_what_the_description_offers(urdf):
    """Each joint a trajectory controller commands has a position command interface in the
    <ros2_control> block, and each is one the repo's forward command controllers claim too (so they
    load inactive and are switched, README)."""
    import xml.etree.ElementTree as ET

    block = ET.fromstring(urdf).find("ros2_control")
    position = {
        j.get("name") for j in block.findall("joint") if j.find("command_interface[@name='position']") is not None
    }
    forward = yaml.safe_load((REPO / "config" / "controllers.yaml").read_text())
    claimed = set()
    for name in ("body_position_controller", "left_hand_position_controller", "right_hand_position_controller"):
        claimed |= set(forward[name]["ros__parameters"]["joints"])
    ros2 = params.load("ros2_controllers.yaml")
    for name in ros2["controller_manager"]["ros__parameters"]:
        joints = set(ros2[name]["ros__parameters"]["joints"])
        assert joints <= position and joints <= claimed, name


# --- pinocchio reads the SRDF ----------------------------------------------------------------------


def test_pinocchio_loads_the_srdf(urdf, srdf_text, srdf):
    model = pin.buildModelFromXML(urdf)
    geometry = pin.buildGeomFromUrdfString(model, urdf, pin.COLLISION)
    geometry.addAllCollisionPairs()
    before = len(geometry.collisionPairs)
    pin.removeCollisionPairsFromXML(model, geometry, srdf_text, False)
    after = len(geometry.collisionPairs)
    checker = cm.SelfCollision(urdf)
    geometry_pairs_disabled = sum(1 for p in checker.pair_links if p in srdf.disabled)
    assert before - after == geometry_pairs_disabled > 0
    pin.loadReferenceConfigurationsFromXML(model, srdf_text, False)
    for (name, _group), joints in srdf.group_states.items():
        q = model.referenceConfigurations[name]
        for joint, value in joints.items():
            assert q[model.joints[model.getJointId(joint)].idx_q] == pytest.approx(value)


def test_named_states_are_free_of_self_collision(urdf, srdf):
    stand = srdf.group_states[("stand", "whole_body")]
    for (name, _), joints in srdf.group_states.items():
        assert not cm.state_collisions(urdf, {**stand, **joints}, set(srdf.disabled)), name


# --- the collision matrix --------------------------------------------------------------------------


def test_matrix_is_deterministic_for_a_seed(urdf):
    a = cm.compute_matrix(urdf, seed=5, samples=400)
    b = cm.compute_matrix(urdf, seed=5, samples=400)
    c = cm.compute_matrix(urdf, seed=6, samples=400)
    assert a.disabled == b.disabled
    assert a.by_reason("Never") != c.by_reason("Never"), "another seed samples other configurations"


def test_committed_srdf_is_what_the_script_writes_from_its_seed(urdf, robot, srdf_text, srdf):
    """Everything but the sampled pairs is regenerated exactly; the sampled part by prefix: the
    first PREFIX_SAMPLES samples of the committed seed are the committed run's first samples, so
    their Never set holds every committed Never pair, and Adjacent, Default and User are equal."""
    seed, samples = cm.committed_seed_and_samples(srdf_text)
    assert samples >= cm.DEFAULT_SAMPLES
    short = cm.compute_matrix(urdf, seed, PREFIX_SAMPLES)
    for reason in ("User", "Adjacent", "Default"):
        assert {p for p, r in srdf.disabled.items() if r == reason} == short.by_reason(reason), reason
    committed_never = {p for p, r in srdf.disabled.items() if r == "Never"}
    assert committed_never <= short.by_reason("Never")
    assert len(committed_never) < len(short.by_reason("Never")), "more samples rule out more pairs"
    rows = [(a, b, r) for (a, b), r in sorted(srdf.disabled.items())]
    full = cm.Matrix(srdf.disabled, {}, seed, samples)
    assert semantic.srdf_xml(robot, rows, cm.header(full)) == srdf_text


def test_never_pairs_do_not_collide_in_fresh_samples(urdf, srdf):
    never = {p for p, r in srdf.disabled.items() if r == "Never"}
    assert never
    counts = cm.collisions_among(urdf, never, FRESH_SEED, FRESH_SAMPLES)
    colliding = {p: n for p, n in counts.items() if n}
    assert not colliding, f"disabled as Never but collided in fresh samples: {colliding}"


def test_fresh_sample_check_can_fail(urdf):
    """The same check on pairs Setup Assistant's plain criterion (no contact in 300 samples) disables
    finds collisions: the reason for the margin and the sample count."""
    checker = cm.SelfCollision(urdf)
    active = checker.only(None)
    ever = set()
    for q in cm.sample_configurations(checker, 0, 300):
        ever |= checker.colliding(q, active)
    plain_never = set(checker.link_pairs) - ever - cm.adjacent_pairs(urdf)
    counts = cm.collisions_among(urdf, plain_never, FRESH_SEED, 2000)
    assert any(counts.values())


def test_adjacent_pairs_see_through_links_without_geometry(urdf):
    adjacent = cm.adjacent_pairs(urdf)
    assert ("abdomen", "base_link") in adjacent  # waist_yaw_link and waist_roll_link carry no geometry
    assert ("left_palm", "left_thumb_metacarpal") in adjacent  # through the two thumb CMC links
    assert ("left_forearm", "left_palm") in adjacent
    assert ("left_forearm", "left_upper_arm") not in adjacent


def test_bad_arguments_are_refused(urdf):
    with pytest.raises(MoveItConfigError, match="samples"):
        cm.compute_matrix(urdf, 0, 0)
    with pytest.raises(MoveItConfigError, match="unknown joint"):
        cm.SelfCollision(urdf).configuration({"left_kneee": 0.1})
    with pytest.raises(MoveItConfigError, match="seed"):
        cm.committed_seed_and_samples("<robot/>")


# --- launch file and example (structure; they ran under the real launch_ros in a session) -------------


def _tree(path: pathlib.Path) -> ast.Module:
    return ast.parse(path.read_text())


def test_launch_file_declares_what_it_reads_and_starts_move_group_and_rviz():
    tree = _tree(LAUNCH)
    declared = {
        c.args[0].value: {k.arg for k in c.keywords}
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "DeclareLaunchArgument"
    }
    assert all("description" in kw for kw in declared.values())
    read = {
        c.args[0].value
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "arg" and isinstance(c.args[0], ast.Constant)
    }
    assert read == set(declared)
    started = {
        tuple(k.value.value for k in c.keywords if k.arg in ("package", "executable"))
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "Node"
    }
    assert started == {
        ("moveit_ros_move_group", "move_group"),
        ("rviz2", "rviz2"),
        ("robot_state_publisher", "robot_state_publisher"),
    }
    gen = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description")
    assert ast.unparse(gen.returns) == "LaunchDescription"
    assert (PACKAGE / "config" / "moveit.rviz").is_file()


def test_rviz_config_has_the_motion_planning_display():
    rviz = yaml.safe_load((PACKAGE / "config" / "moveit.rviz").read_text())
    displays = rviz["Visualization Manager"]["Displays"]
    mp = next(d for d in displays if d["Class"] == "moveit_rviz_plugin/MotionPlanning")
    assert mp["Planning Request"]["Planning Group"] in {
        g.name for g in semantic.groups(RobotModel.from_urdf(expand_description()))
    }
    assert rviz["Visualization Manager"]["Global Options"]["Fixed Frame"] == semantic.VIRTUAL_JOINT["parent_frame"]


def test_example_uses_moveit_py_api_and_our_parameters():
    source = EXAMPLE.read_text()
    ast.parse(source)
    for call in ("MoveItPy(", "get_planning_component(", "set_start_state_to_current_state(", "set_goal_state(",
                 ".plan(", ".execute(", "moveit_py_parameters("):  # fmt: skip
        assert call in source, call
