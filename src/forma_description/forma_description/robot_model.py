"""The robot model as every Forma node sees it: joints, limits, groups and frames, parsed from
the expanded URDF (never from a second hand-kept list).

Command groups follow DESIGN §4: the body (legs, spine, neck, arms: 38 joints) is commanded by
whole-body control, each hand (22 joints) by the hands node; the hardware node watches each
group with its own command watchdog.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import numpy as np

from forma_description.errors import DescriptionError

GROUPS = ("body", "left_hand", "right_hand")
FINGERS = ("thumb", "index", "middle", "ring", "little")
_HAND_JOINT = re.compile(r"^(left|right)_((thumb|index|middle|ring|little)_\w+|palm_arch)$")


@dataclasses.dataclass(frozen=True)
class JointInfo:
    """One actuated joint with its limits [rad, rad/s, N m] and dynamics."""

    name: str
    kind: str  # key of joints.yaml, e.g. "knee", "finger_pip"
    group: str  # one of GROUPS
    parent: str
    child: str
    axis: tuple[float, float, float]
    lower: float
    upper: float
    velocity: float
    effort: float
    damping: float
    friction: float


def joint_kind(name: str, prefix: str = "") -> str:
    """Map a joint name to its joints.yaml kind: left_knee -> knee, right_ring_pip -> finger_pip."""
    bare = name[len(prefix) :] if prefix and name.startswith(prefix) else name
    bare = re.sub(r"^(left|right)_", "", bare)
    return re.sub(r"^(index|middle|ring|little)_", "finger_", bare)


def joint_group(name: str, prefix: str = "") -> str:
    """The command group a joint belongs to: body, left_hand or right_hand."""
    bare = name[len(prefix) :] if prefix and name.startswith(prefix) else name
    m = _HAND_JOINT.match(bare)
    return f"{m.group(1)}_hand" if m else "body"


def _floats(text: str | None, n: int, default: float = 0.0) -> tuple[float, ...]:
    if not text:
        return (default,) * n
    values = tuple(float(v) for v in text.split())
    if len(values) != n:
        raise DescriptionError(f"expected {n} numbers, got {text!r}")
    return values


@dataclasses.dataclass
class RobotModel:
    """Joints (in canonical order: body, left hand, right hand), links and fixed frames."""

    name: str
    prefix: str
    joints: list[JointInfo]
    link_masses_kg: dict[str, float]
    root_link: str
    frames: dict[str, str]  # massless fixed frame -> parent link
    urdf_xml: str = dataclasses.field(repr=False)

    @classmethod
    def from_urdf(cls, urdf_xml: str, prefix: str = "") -> RobotModel:
        try:
            root = ET.fromstring(urdf_xml)
        except ET.ParseError as exc:
            raise DescriptionError(f"robot description is not valid XML: {exc}") from exc
        if root.tag != "robot":
            raise DescriptionError(f"robot description root is <{root.tag}>, expected <robot>")
        masses = {}
        for link in root.findall("link"):
            mass = link.find("inertial/mass")
            masses[link.get("name")] = float(mass.get("value")) if mass is not None else 0.0
        children = set()
        joints, frames = [], {}
        for j in root.findall("joint"):
            parent, child = j.find("parent").get("link"), j.find("child").get("link")
            children.add(child)
            jtype = j.get("type")
            if jtype == "fixed":
                if masses.get(child, 0.0) == 0.0:
                    frames[child] = parent
                continue
            if jtype not in ("revolute", "prismatic"):
                raise DescriptionError(f"joint {j.get('name')}: type {jtype!r} is not supported")
            limit = j.find("limit")
            if limit is None or any(limit.get(k) is None for k in ("lower", "upper", "velocity", "effort")):
                raise DescriptionError(f"joint {j.get('name')} lacks one of the position, velocity or effort limits")
            dyn = j.find("dynamics")
            name = j.get("name")
            joints.append(
                JointInfo(
                    name=name,
                    kind=joint_kind(name, prefix),
                    group=joint_group(name, prefix),
                    parent=parent,
                    child=child,
                    axis=_floats(j.find("axis").get("xyz") if j.find("axis") is not None else "1 0 0", 3),
                    lower=float(limit.get("lower")),
                    upper=float(limit.get("upper")),
                    velocity=float(limit.get("velocity")),
                    effort=float(limit.get("effort")),
                    damping=float(dyn.get("damping", 0.0)) if dyn is not None else 0.0,
                    friction=float(dyn.get("friction", 0.0)) if dyn is not None else 0.0,
                )
            )
        roots = [name for name in masses if name not in children]
        if len(roots) != 1:
            raise DescriptionError(f"robot description must have one root link, found {roots}")
        order = {g: i for i, g in enumerate(GROUPS)}
        joints.sort(key=lambda info: order[info.group])  # stable: keeps URDF order within a group
        return cls(
            name=root.get("name", "robot"),
            prefix=prefix,
            joints=joints,
            link_masses_kg=masses,
            root_link=roots[0],
            frames=frames,
            urdf_xml=urdf_xml,
        )

    # --- queries used by the nodes -------------------------------------------------------
    @property
    def joint_names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def total_mass_kg(self) -> float:
        return sum(self.link_masses_kg.values())

    def joint(self, name: str) -> JointInfo:
        for j in self.joints:
            if j.name == name:
                return j
        raise DescriptionError(f"unknown joint {name!r}")

    def group_joint_names(self, group: str) -> list[str]:
        if group not in GROUPS:
            raise DescriptionError(f"unknown command group {group!r}; groups: {', '.join(GROUPS)}")
        return [j.name for j in self.joints if j.group == group]

    def limits_arrays(self) -> dict[str, np.ndarray]:
        """Limits as arrays in joint order: lower, upper [rad], velocity [rad/s], effort [N m]."""
        return {
            "lower": np.array([j.lower for j in self.joints]),
            "upper": np.array([j.upper for j in self.joints]),
            "velocity": np.array([j.velocity for j in self.joints]),
            "effort": np.array([j.effort for j in self.joints]),
        }
