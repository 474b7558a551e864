"""Expand urdf/forma.urdf.xacro with validated arguments.

Arguments are checked here, before xacro runs, so that a typo gives a message naming the
argument and its valid values instead of a Python traceback from inside xacro.
"""

from __future__ import annotations

import functools
import math
import pathlib

import yaml

from forma_description.errors import DescriptionError
from forma_description.paths import share_dir

HARDWARE_PLUGINS = {
    "mock": "mock_components/GenericSystem",
    "gazebo": "gz_ros2_control/GazeboSimSystem",
    "topic": "joint_state_topic_hardware_interface/JointStateTopicSystem",
}
HEIGHT_RANGE_M = (1.20, 2.10)
MASS_RANGE_KG = (20.0, 150.0)
REFERENCE_HEIGHT_M = 1.73


def urdf_dir() -> pathlib.Path:
    """Directory holding forma.urdf.xacro, joints.yaml and body_forms.yaml."""
    return share_dir("forma_description") / "urdf"


def _load_body_forms() -> dict:
    with open(urdf_dir() / "body_forms.yaml") as f:
        return yaml.safe_load(f)


def available_body_forms() -> list[str]:
    """Names of the body forms defined in body_forms.yaml."""
    return sorted(_load_body_forms())


@functools.lru_cache(maxsize=16)
def expand_description(
    body: str = "male",
    height_m: float = REFERENCE_HEIGHT_M,
    mass_kg: float = 65.0,
    hardware: str = "mock",
    prefix: str = "",
    controllers_file: str = "",
) -> str:
    """Return the URDF XML of the robot for these arguments (cached per argument set)."""
    forms = _load_body_forms()
    if body not in forms:
        raise DescriptionError(f"unknown body form {body!r}; available: {', '.join(sorted(forms))}")
    if not (math.isfinite(height_m) and HEIGHT_RANGE_M[0] <= height_m <= HEIGHT_RANGE_M[1]):
        raise DescriptionError(f"height {height_m} m outside {HEIGHT_RANGE_M[0]}..{HEIGHT_RANGE_M[1]} m")
    if not (math.isfinite(mass_kg) and MASS_RANGE_KG[0] <= mass_kg <= MASS_RANGE_KG[1]):
        raise DescriptionError(f"mass {mass_kg} kg outside {MASS_RANGE_KG[0]}..{MASS_RANGE_KG[1]} kg")
    if hardware not in HARDWARE_PLUGINS:
        raise DescriptionError(f"unknown hardware {hardware!r}; available: {', '.join(HARDWARE_PLUGINS)}")
    if prefix and not prefix.replace("_", "").isalnum():
        raise DescriptionError(f"prefix {prefix!r} may only hold letters, digits and '_'")

    import xacro

    mappings = {
        "body": body,
        "height": repr(float(height_m)),
        "mass": repr(float(mass_kg)),
        "hardware": hardware,
        "prefix": prefix,
        "controllers_file": controllers_file,
    }
    try:
        doc = xacro.process_file(str(urdf_dir() / "forma.urdf.xacro"), mappings=mappings)
    except Exception as exc:  # xacro raises its own XacroException and plain Python errors
        raise DescriptionError(f"xacro expansion failed: {exc}") from exc
    return doc.toprettyxml(indent="  ")
