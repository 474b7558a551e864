"""Named joint poses from urdf/poses.yaml (e.g. `stand`, the nominal standing pose)."""

from __future__ import annotations

import functools

import numpy as np
import yaml

from forma_description.errors import DescriptionError
from forma_description.robot_model import RobotModel
from forma_description.xacro_expand import urdf_dir


@functools.lru_cache(maxsize=1)
def _load_poses() -> dict[str, dict[str, float]]:
    with open(urdf_dir() / "poses.yaml") as f:
        return yaml.safe_load(f)


def available_poses() -> list[str]:
    return sorted(_load_poses())


def named_pose(name: str, robot: RobotModel) -> np.ndarray:
    """Joint positions [rad] in the robot's joint order, clipped to nothing: a pose outside the
    joint limits is an error in poses.yaml."""
    poses = _load_poses()
    if name not in poses:
        raise DescriptionError(f"unknown pose {name!r}; available: {', '.join(available_poses())}")
    spec = poses[name] or {}
    kinds = {j.kind for j in robot.joints}
    names = set(robot.joint_names)
    unknown = [k for k in spec if k not in kinds and robot.prefix + k not in names]
    if unknown:
        raise DescriptionError(f"pose {name}: unknown joint kind(s) or name(s) {', '.join(unknown)}")
    q = np.zeros(len(robot.joints))
    for i, j in enumerate(robot.joints):
        bare = j.name[len(robot.prefix) :]
        value = spec.get(bare, spec.get(j.kind, 0.0))
        if not j.lower <= value <= j.upper:
            raise DescriptionError(f"pose {name}: {j.name} = {value} rad is outside its limits [{j.lower}, {j.upper}]")
        q[i] = value
    return q
