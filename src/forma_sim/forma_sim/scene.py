"""Build the simulated world: the robot's MJCF from the xacro description, included by a world file.

World files live in config/worlds (installed to share/forma_sim/worlds); each <include>s
forma_robot.xml, which is generated here from the expanded URDF, so the simulation cannot drift
from the description. Files in the world directory's assets/ (e.g. the person model and its face
texture) are given to MuJoCo as assets/<name>, so a world can include or reference them.
"""

from __future__ import annotations

import dataclasses
import pathlib

import mujoco

from forma_description import RobotModel
from forma_description.joint_table import armature_by_kind
from forma_description.mjcf import ROBOT_FILE, MjcfOptions, build_robot_mjcf
from forma_description.paths import share_dir
from forma_sim.errors import SimError


def worlds_dir() -> pathlib.Path:
    return share_dir("forma_sim") / "worlds"


def available_worlds() -> list[str]:
    return sorted(p.stem for p in worlds_dir().glob("*.xml"))


def world_path(world: str) -> pathlib.Path:
    """A world name (e.g. "tabletop") or a path to an MJCF world file."""
    candidate = pathlib.Path(world)
    if candidate.suffix == ".xml":
        if not candidate.is_file():
            raise SimError(f"world file {candidate} does not exist")
        return candidate
    path = worlds_dir() / f"{world}.xml"
    if not path.is_file():
        raise SimError(f"unknown world {world!r}; available: {', '.join(available_worlds())}")
    return path


def build_model(
    robot: RobotModel, world: str, physics_rate_hz: float = 500.0, options: MjcfOptions | None = None
) -> mujoco.MjModel:
    """Compile world + robot into a MuJoCo model with the given physics rate."""
    if not 200.0 <= physics_rate_hz <= 5000.0:
        raise SimError(f"physics_rate_hz {physics_rate_hz} outside 200..5000 Hz")
    options = dataclasses.replace(options or MjcfOptions(), timestep_s=1.0 / physics_rate_hz)
    robot_xml = build_robot_mjcf(robot, armature_by_kind(), options)
    path = world_path(world)
    assets = {f"assets/{f.name}": f.read_bytes() for f in sorted((path.parent / "assets").glob("*")) if f.is_file()}
    assets[ROBOT_FILE] = robot_xml.encode()
    try:
        return mujoco.MjModel.from_xml_string(path.read_text(), assets)
    except ValueError as exc:
        raise SimError(f"world {path}: MuJoCo could not compile it: {exc}") from exc
