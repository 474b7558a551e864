"""The semantic description of Forma for MoveIt (the SRDF): planning groups, end effectors, named
states and the virtual joint, defined here once and written out with the disabled-collision
matrix by `forma_moveit_config.collision_matrix`.

Groups (DESIGN §3), every name a joint or link of the description:
- `left_arm` / `right_arm`: the chain `torso` -> `<side>_hand` (palm frame), the 9 joints from
  scapula elevation to wrist yaw;
- `torso`: the chain `base_link` -> `torso` (waist yaw, roll, pitch, chest pitch);
- `head`: the chain `torso` -> `head` (neck yaw, pitch);
- `left_hand` / `right_hand`: the 22 finger, thumb and palm-arch joints;
- `left_leg` / `right_leg`: the chain `base_link` -> `<side>_toe_link` (hip yaw .. toe);
- `arms` (both arms) and `whole_body` (every group): groups of groups.

Named states [rad]: `stand` (whole_body) is forma_description's `stand` pose (urdf/poses.yaml),
`ready` and `carry` (arms) and `wave` (right_arm) are defined below; every one lies within the
joint limits and is free of self-collision (the generator refuses one that is not).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from forma_description.limbs import ARM_JOINTS
from forma_description.poses import named_pose
from forma_description.robot_model import RobotModel
from forma_moveit_config.errors import MoveItConfigError

ROBOT_NAME = "forma"
SIDES = ("left", "right")
# The odom frame (REP-105) is the robot's own estimate of where its pelvis is; a floating virtual
# joint lets MoveIt place the pelvis there from /tf.
VIRTUAL_JOINT = {"name": "virtual_joint", "type": "floating", "parent_frame": "odom", "child_link": "base_link"}

# Arm poses, the same numbers on both sides (the right side mirrors the left, README "Signs").
# shoulder_pitch < 0 raises the arm forward, shoulder_roll > 0 spreads it, elbow > 0 bends.
READY_ARM = {"shoulder_pitch": -0.45, "shoulder_roll": 0.15, "elbow": 1.35}  # forearms forward at hip height
CARRY_ARM = {"shoulder_pitch": -0.15, "shoulder_roll": 0.12, "elbow": 1.75, "forearm_yaw": 0.0}  # close to the belly
# the upper arm spread sideways, turned so that the bent forearm points up: palm ~20 cm above the shoulder
WAVE_RIGHT_ARM = {"shoulder_pitch": -0.2, "shoulder_roll": 1.35, "shoulder_yaw": 1.0, "elbow": 1.5}

# Pairs disabled by hand ("User", as in Setup Assistant), each with the reason. The head's collision
# box reaches down over the neck into the torso's box whenever the neck pitches by more than
# 0.1 rad (in about 85 % of the neck's range, the `stand` pose's 0.55 rad included), so the sampled
# matrix keeps the pair enabled and MoveIt would find the robot in collision whenever it looks at
# the table. The neck's joint limits, not these boxes, keep the real head off the chest.
USER_DISABLED = {("head", "torso"): "coarse head box overlaps the torso box at most neck pitches"}


@dataclasses.dataclass(frozen=True)
class Group:
    """A planning group: a chain (base_link -> tip_link), a list of joints, or a list of subgroups."""

    name: str
    chain: tuple[str, str] | None = None
    joints: tuple[str, ...] = ()
    subgroups: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class EndEffector:
    name: str
    parent_link: str
    group: str
    parent_group: str


@dataclasses.dataclass(frozen=True)
class GroupState:
    name: str
    group: str
    joints: tuple[tuple[str, float], ...]  # (joint name, position [rad])


def groups(robot: RobotModel) -> list[Group]:
    p = robot.prefix
    out = []
    for side in SIDES:
        out.append(Group(f"{side}_arm", chain=(f"{p}torso", f"{p}{side}_hand")))
    out.append(Group("torso", chain=(f"{p}base_link", f"{p}torso")))
    out.append(Group("head", chain=(f"{p}torso", f"{p}head")))
    for side in SIDES:
        out.append(Group(f"{side}_hand", joints=tuple(robot.group_joint_names(f"{side}_hand"))))
    for side in SIDES:
        out.append(Group(f"{side}_leg", chain=(f"{p}base_link", f"{p}{side}_toe_link")))
    out.append(Group("arms", subgroups=("left_arm", "right_arm")))
    leaves = tuple(g.name for g in out if not g.subgroups)
    out.append(Group("whole_body", subgroups=leaves))
    return out


def end_effectors(robot: RobotModel) -> list[EndEffector]:
    p = robot.prefix
    return [EndEffector(f"{side}_hand_ee", f"{p}{side}_hand", f"{side}_hand", f"{side}_arm") for side in SIDES]


def _arm_state(robot: RobotModel, name: str, group: str, sides: tuple[str, ...], pose: dict[str, float]) -> GroupState:
    joints = []
    for side in sides:
        for kind in ARM_JOINTS:
            joint = robot.joint(f"{robot.prefix}{side}_{kind}")
            value = pose.get(kind, 0.0)
            if not joint.lower <= value <= joint.upper:
                raise MoveItConfigError(
                    f"named state {name}: {joint.name} = {value} rad outside its limits [{joint.lower}, {joint.upper}]"
                )
            joints.append((joint.name, value))
    return GroupState(name, group, tuple(joints))


def group_states(robot: RobotModel) -> list[GroupState]:
    stand = named_pose("stand", robot)  # validated against the limits by forma_description
    return [
        GroupState("stand", "whole_body", tuple(zip(robot.joint_names, (float(v) for v in stand), strict=True))),
        _arm_state(robot, "ready", "arms", SIDES, READY_ARM),
        _arm_state(robot, "carry", "arms", SIDES, CARRY_ARM),
        _arm_state(robot, "wave", "right_arm", ("right",), WAVE_RIGHT_ARM),
    ]


def srdf_xml(robot: RobotModel, disabled: list[tuple[str, str, str]], header: str) -> str:
    """The SRDF text: `disabled` is (link1, link2, reason) with MoveIt Setup Assistant's reasons
    (Adjacent, Default, Always, Never); `header` goes into a comment at the top."""
    root = ET.Element("robot", name=ROBOT_NAME)
    for g in groups(robot):
        el = ET.SubElement(root, "group", name=g.name)
        if g.chain:
            ET.SubElement(el, "chain", base_link=g.chain[0], tip_link=g.chain[1])
        for j in g.joints:
            ET.SubElement(el, "joint", name=j)
        for s in g.subgroups:
            ET.SubElement(el, "group", name=s)
    for s in group_states(robot):
        el = ET.SubElement(root, "group_state", name=s.name, group=s.group)
        for j, v in s.joints:
            ET.SubElement(el, "joint", name=j, value=f"{v:g}")
    for e in end_effectors(robot):
        ET.SubElement(root, "end_effector", name=e.name, parent_link=e.parent_link, group=e.group,
                      parent_group=e.parent_group)  # fmt: skip
    ET.SubElement(
        root, "virtual_joint", **{k: (robot.prefix + v if k == "child_link" else v) for k, v in VIRTUAL_JOINT.items()}
    )
    for a, b, reason in disabled:
        ET.SubElement(root, "disable_collisions", link1=a, link2=b, reason=reason)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    comment = "\n".join(f"  {line}".rstrip() for line in header.strip().splitlines())
    return f'<?xml version="1.0"?>\n<!--\n{comment}\n-->\n{body}\n'


@dataclasses.dataclass
class Srdf:
    """What a committed SRDF says, parsed (for the tests and the pip-side planner)."""

    groups: dict[str, ET.Element]
    group_states: dict[tuple[str, str], dict[str, float]]  # (state, group) -> joint -> [rad]
    end_effectors: list[dict[str, str]]
    virtual_joints: list[dict[str, str]]
    disabled: dict[tuple[str, str], str]  # sorted link pair -> reason


def parse_srdf(text: str) -> Srdf:
    root = ET.fromstring(text)
    if root.tag != "robot":
        raise MoveItConfigError(f"SRDF root element is <{root.tag}>, expected <robot>")
    disabled = {}
    for el in root.iter("disable_collisions"):
        a, b = sorted((el.get("link1"), el.get("link2")))
        disabled[(a, b)] = el.get("reason", "")
    return Srdf(
        groups={el.get("name"): el for el in root.findall("group")},
        group_states={
            (el.get("name"), el.get("group")): {j.get("name"): float(j.get("value")) for j in el.findall("joint")}
            for el in root.findall("group_state")
        },
        end_effectors=[dict(el.attrib) for el in root.findall("end_effector")],
        virtual_joints=[dict(el.attrib) for el in root.findall("virtual_joint")],
        disabled=disabled,
    )
