"""joints.yaml: the per-joint-kind figures that URDF has no place for (armature)."""

from __future__ import annotations

import functools

import yaml

from forma_description.xacro_expand import urdf_dir


@functools.lru_cache(maxsize=1)
def load_joint_table() -> dict[str, dict]:
    """joints.yaml as a dict: kind -> {axis, lower, upper, velocity, effort, damping, friction, armature}."""
    with open(urdf_dir() / "joints.yaml") as f:
        return yaml.safe_load(f)


def armature_by_kind() -> dict[str, float]:
    """Reflected rotor inertia [kg m^2] per joint kind."""
    return {kind: float(spec["armature"]) for kind, spec in load_joint_table().items()}
