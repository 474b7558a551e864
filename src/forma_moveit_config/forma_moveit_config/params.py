"""MoveIt's parameters from the files in config/, and the files generated from the description.

`move_group_parameters(urdf)` and `moveit_py_parameters(urdf)` return the one dict each node gets
(the layout moveit_configs_utils' MoveItConfigsBuilder produces: `robot_description_kinematics`,
`robot_description_planning`, one key per planning pipeline, the controller manager's keys); the
launch file and the moveit_py example only pass them on. Generated here, compared by a test:

    python -m forma_moveit_config.params     # rewrites joint_limits.yaml, moveit_controllers.yaml,
                                             # ros2_controllers.yaml from the description

- joint_limits.yaml: every joint's velocity limit is the description's; acceleration limits
  (which the URDF cannot carry, and Pilz and time parameterization need) reach full speed in
  `ACCEL_TIME_S` (body) or `HAND_ACCEL_TIME_S` (fingers).
- ros2_controllers.yaml: a joint_trajectory_controller per arm, torso, head and hand over the
  description's position interfaces, for controller_manager (loaded inactive: they claim the
  joints of `body_position_controller` / `<side>_hand_position_controller` in
  config/controllers.yaml, the forward command controllers whole-body control feeds).
- moveit_controllers.yaml: MoveIt's simple controller manager on those controllers'
  FollowJointTrajectory actions.
"""

from __future__ import annotations

import pathlib
import sys

import yaml

from forma_description.robot_model import RobotModel
from forma_description.xacro_expand import expand_description
from forma_moveit_config import semantic
from forma_moveit_config.errors import MoveItConfigError
from forma_moveit_config.paths import config_dir, srdf_path

ACCEL_TIME_S = 0.5  # [s] a body joint reaches its velocity limit from rest in this time at full acceleration
HAND_ACCEL_TIME_S = 0.2  # [s] the same for finger joints (small inertia)
VELOCITY_SCALING = 0.1  # default velocity / acceleration scaling of a plan request (RViz's slider starts here)
PIPELINES = ("ompl", "pilz_industrial_motion_planner")
# planning groups that get a trajectory controller (the legs do not: the robot stands on them)
CONTROLLED_GROUPS = ("left_arm", "right_arm", "torso", "head", "left_hand", "right_hand")
GENERATED_HEADER = """\
# GENERATED from the robot description by `python -m forma_moveit_config.params`; do not edit by
# hand (a test compares). {what}
"""


class _NoAliases(yaml.SafeDumper):
    """rcl's parameter parser refuses YAML anchors and aliases, which PyYAML writes for shared lists."""

    def ignore_aliases(self, data) -> bool:
        return True


def dump(data: dict) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False, width=100)


def load(name: str) -> dict:
    """A YAML file of config/, refused by name when it is missing or not a mapping."""
    path = config_dir() / name
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MoveItConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise MoveItConfigError(f"{path} is not a YAML mapping")
    return data


def group_joints(robot: RobotModel, group: str) -> list[str]:
    """The active joints of a planning group, in the description's order."""
    by_name = {g.name: g for g in semantic.groups(robot)}
    if group not in by_name:
        raise MoveItConfigError(f"unknown planning group {group!r}; groups: {', '.join(by_name)}")
    g = by_name[group]
    if g.subgroups:
        names = {j for s in g.subgroups for j in group_joints(robot, s)}
    elif g.joints:
        names = set(g.joints)
    else:
        names = set(_chain_joints(robot, *g.chain))
    return [j for j in robot.joint_names if j in names]


def _chain_joints(robot: RobotModel, base: str, tip: str) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(robot_urdf())
    parent = {j.find("child").get("link"): (j.get("name"), j.find("parent").get("link"), j.get("type"))
              for j in root.findall("joint")}  # fmt: skip
    joints, link = [], tip
    while link != base:
        if link not in parent:
            raise MoveItConfigError(f"{tip} does not descend from {base}")
        name, link, kind = parent[link]
        if kind != "fixed":
            joints.append(name)
    return joints[::-1]


def robot_urdf() -> str:
    return expand_description()


def joint_limits_config(robot: RobotModel) -> dict:
    limits = {}
    for j in robot.joints:
        accel_time = HAND_ACCEL_TIME_S if j.group.endswith("_hand") else ACCEL_TIME_S
        limits[j.name] = {
            "has_velocity_limits": True,
            "max_velocity": float(j.velocity),  # [rad/s], the description's
            "has_acceleration_limits": True,
            "max_acceleration": round(float(j.velocity) / accel_time, 3),  # [rad/s^2]
        }
    return {
        "default_velocity_scaling_factor": VELOCITY_SCALING,
        "default_acceleration_scaling_factor": VELOCITY_SCALING,
        "joint_limits": limits,
    }


def controller_name(group: str) -> str:
    return f"{group}_controller"


def ros2_controllers_config(robot: RobotModel) -> dict:
    manager = {controller_name(g): {"type": "joint_trajectory_controller/JointTrajectoryController"}
               for g in CONTROLLED_GROUPS}  # fmt: skip
    cfg: dict = {"controller_manager": {"ros__parameters": manager}}
    for g in CONTROLLED_GROUPS:
        cfg[controller_name(g)] = {
            "ros__parameters": {
                "joints": group_joints(robot, g),
                "command_interfaces": ["position"],
                "state_interfaces": ["position", "velocity"],
                "allow_partial_joints_goal": False,
            }
        }
    return cfg


def moveit_controllers_config(robot: RobotModel) -> dict:
    simple: dict = {"controller_names": [controller_name(g) for g in CONTROLLED_GROUPS]}
    for g in CONTROLLED_GROUPS:
        simple[controller_name(g)] = {
            "type": "FollowJointTrajectory",
            "action_ns": "follow_joint_trajectory",
            "default": True,
            "joints": group_joints(robot, g),
        }
    return {
        "moveit_controller_manager": "moveit_simple_controller_manager/MoveItSimpleControllerManager",
        "moveit_simple_controller_manager": simple,
        "trajectory_execution": {
            "allowed_execution_duration_scaling": 1.2,  # a trajectory may take 20 % longer than planned
            "allowed_goal_duration_margin": 0.5,  # [s] on top of that
            "allowed_start_tolerance": 0.01,  # [rad] start state vs the trajectory's first point
            "execution_duration_monitoring": True,
        },
    }


GENERATED = {
    "joint_limits.yaml": (joint_limits_config, "Velocity limits are the URDF's; accelerations: see params.py."),
    "ros2_controllers.yaml": (ros2_controllers_config, "controller_manager parameters (load inactive, README)."),
    "moveit_controllers.yaml": (moveit_controllers_config, "MoveIt's trajectory execution."),
}


def generated_text(name: str, robot: RobotModel) -> str:
    build, what = GENERATED[name]
    return GENERATED_HEADER.format(what=what) + dump(build(robot))


def move_group_parameters(urdf_xml: str | None = None, srdf_xml: str | None = None) -> dict:
    """Everything move_group reads, as one parameter dict (what a launch file passes on)."""
    urdf_xml = urdf_xml or robot_urdf()
    if srdf_xml is None:
        srdf_xml = srdf_path().read_text()
    planning = load("joint_limits.yaml")
    planning.update(load("pilz_cartesian_limits.yaml"))
    params: dict = {
        "robot_description": urdf_xml,
        "robot_description_semantic": srdf_xml,
        "robot_description_kinematics": load("kinematics.yaml"),
        "robot_description_planning": planning,
        "planning_pipelines": list(PIPELINES),
        "default_planning_pipeline": PIPELINES[0],
    }
    for pipeline in PIPELINES:
        params[pipeline] = load(f"{pipeline}_planning.yaml")
    params.update(load("moveit_controllers.yaml"))
    params.update(load("move_group.yaml"))
    return params


def moveit_py_parameters(urdf_xml: str | None = None, srdf_xml: str | None = None) -> dict:
    """moveit_py's (MoveItCpp's) parameters: move_group's plus config/moveit_py.yaml."""
    params = move_group_parameters(urdf_xml, srdf_xml)
    params.update(load("moveit_py.yaml"))
    return params


def main(argv: list[str] | None = None) -> int:
    robot = RobotModel.from_urdf(robot_urdf())
    out: pathlib.Path = config_dir()
    for name in GENERATED:
        (out / name).write_text(generated_text(name, robot))
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
