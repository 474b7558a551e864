"""Gazebo Harmonic bringup: the pure parts of launch/gazebo.launch.py, tested without ROS.

What the launch file needs beyond starting processes is computed here: the spawn height that puts
the soles on the ground, which controllers to spawn (from config/controllers.yaml) and in which
state, the arguments of `ros_gz_sim create`, `gz sim` and the controller_manager `spawner`, and
the bridge configuration (config/gazebo/bridge.yaml) with the Gazebo topics the robot's sensors
publish. Nothing here imports rclpy or launch.
"""

from __future__ import annotations

import dataclasses
import pathlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

import numpy as np
import yaml

from forma_description.mjcf import rpy_to_matrix

ENTITY_NAME = "forma"
CONTROLLER_MANAGER = "/controller_manager"  # gz_ros2_control's default node name, root namespace
SOLE_FRAMES = ("left_sole", "right_sole")
SPAWN_CLEARANCE_M = 0.005  # the robot drops this far onto the ground at start
# ForwardCommandControllers claiming the same joints through other command interfaces: loaded and
# configured but not activated. gz_ros2_control applies one command per joint (velocity before
# position before effort), so only one body command mode may be active; switch with
# `ros2 control switch_controllers`.
INACTIVE_CONTROLLERS = ("body_velocity_controller", "body_effort_controller")
BRIDGE_DIRECTIONS = ("BIDIRECTIONAL", "GZ_TO_ROS", "ROS_TO_GZ")
BRIDGE_KEYS = ("ros_topic_name", "gz_topic_name", "ros_type_name", "gz_type_name", "direction")
# gz-sensors names the topics of an rgbd_camera sensor <topic>/<suffix>.
RGBD_TOPIC_SUFFIXES = ("image", "depth_image", "camera_info", "points")


class GazeboPlanError(ValueError):
    """A configuration the Gazebo bringup cannot use; the message names the file and the field."""


# --- robot placement ------------------------------------------------------------------------
def _origin(joint: ET.Element) -> np.ndarray:
    t = np.eye(4)
    origin = joint.find("origin")
    if origin is not None:
        t[:3, :3] = rpy_to_matrix(tuple(float(v) for v in origin.get("rpy", "0 0 0").split()))
        t[:3, 3] = [float(v) for v in origin.get("xyz", "0 0 0").split()]
    return t


def frame_position_m(urdf_xml: str, frame: str) -> np.ndarray:
    """Position of link/frame `frame` in the root link's frame with every joint at zero [m]."""
    root = ET.fromstring(urdf_xml)
    links = {link.get("name") for link in root.findall("link")}
    if frame not in links:
        raise GazeboPlanError(f"robot description has no link or frame {frame!r}")
    parent_joint = {j.find("child").get("link"): j for j in root.findall("joint")}
    chain = []
    link = frame
    while link in parent_joint:
        chain.append(parent_joint[link])
        link = parent_joint[link].find("parent").get("link")
    t = np.eye(4)
    for joint in reversed(chain):
        t = t @ _origin(joint)
    return t[:3, 3]


def spawn_height_m(urdf_xml: str, soles: Iterable[str] = SOLE_FRAMES, clearance_m: float = SPAWN_CLEARANCE_M) -> float:
    """Height of the root link (pelvis) at spawn that puts the lowest sole `clearance_m` above z=0."""
    lowest = min(float(frame_position_m(urdf_xml, sole)[2]) for sole in soles)
    if lowest >= 0.0:
        raise GazeboPlanError(f"the soles are not below the root link (lowest at {lowest:+.3f} m)")
    return -lowest + clearance_m


def create_arguments(z_m: float, name: str = ENTITY_NAME, topic: str = "robot_description") -> list[str]:
    """Arguments of `ros2 run ros_gz_sim create`: the URDF from `topic`, at (0, 0, z_m)."""
    return ["-topic", topic, "-name", name, "-x", "0.0", "-y", "0.0", "-z", f"{z_m:.4f}"]


def gz_args(world: str, gui: bool) -> str:
    """gz_args of ros_gz_sim's gz_sim.launch.py: run at once (-r), server only (-s) without a GUI."""
    return " ".join(["-r", *([] if gui else ["-s"]), world])


def parse_bool(text: str, name: str) -> bool:
    """A launch argument that must be true or false."""
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise GazeboPlanError(f"launch argument {name}: expected true or false, got {text!r}")
    return value == "true"


def parse_height(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GazeboPlanError(f"launch argument height: expected metres, got {text!r}") from None


# --- controllers ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ControllerSpawn:
    """Controllers to spawn: `active` are activated, `inactive` loaded and configured only."""

    active: tuple[str, ...]
    inactive: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.active + self.inactive


def controller_types(config: Mapping) -> dict[str, str]:
    """Controller name -> type, as declared under controller_manager.ros__parameters."""
    try:
        params = config["controller_manager"]["ros__parameters"]
    except (KeyError, TypeError):
        raise GazeboPlanError("controllers file: no controller_manager.ros__parameters") from None
    return {k: v["type"] for k, v in params.items() if isinstance(v, Mapping) and "type" in v}


def controller_spawn(config: Mapping, inactive: Iterable[str] = INACTIVE_CONTROLLERS) -> ControllerSpawn:
    """Every controller the file declares, in file order; those in `inactive` are not activated."""
    names = list(controller_types(config))
    inactive = tuple(inactive)
    missing = [n for n in inactive if n not in names]
    if missing:
        raise GazeboPlanError(f"controllers file: no controller named {', '.join(missing)}")
    return ControllerSpawn(
        active=tuple(n for n in names if n not in inactive),
        inactive=tuple(n for n in names if n in inactive),
    )


def load_controller_spawn(path: str | pathlib.Path) -> ControllerSpawn:
    with open(path) as f:
        return controller_spawn(yaml.safe_load(f))


def spawner_arguments(
    names: Iterable[str], param_file: str, inactive: bool = False, controller_manager: str = CONTROLLER_MANAGER
) -> list[str]:
    """Arguments of controller_manager's `spawner` for these controllers."""
    names = list(names)
    if not names:
        raise GazeboPlanError("spawner: no controllers")
    args = [*names, "--controller-manager", controller_manager, "--param-file", param_file]
    return [*args, "--inactive"] if inactive else args


# --- ros_gz_bridge --------------------------------------------------------------------------
def bridge_entries(config: object, source: str = "bridge.yaml") -> list[dict]:
    """Validate a ros_gz_bridge config_file (a YAML list of topic bridges) and return it."""
    if not isinstance(config, list) or not config:
        raise GazeboPlanError(f"{source}: expected a non-empty list of bridges")
    seen = set()
    for i, entry in enumerate(config):
        where = f"{source}[{i}]"
        if not isinstance(entry, dict):
            raise GazeboPlanError(f"{where}: expected a mapping")
        missing = [k for k in BRIDGE_KEYS if not entry.get(k)]
        if missing:
            raise GazeboPlanError(f"{where}: missing {', '.join(missing)}")
        if entry["direction"] not in BRIDGE_DIRECTIONS:
            raise GazeboPlanError(
                f"{where}: direction {entry['direction']!r} not one of {', '.join(BRIDGE_DIRECTIONS)}"
            )
        if entry["ros_topic_name"] in seen:
            raise GazeboPlanError(f"{where}: ROS topic {entry['ros_topic_name']} bridged twice")
        seen.add(entry["ros_topic_name"])
    return config


def load_bridge(path: str | pathlib.Path) -> list[dict]:
    with open(path) as f:
        return bridge_entries(yaml.safe_load(f), str(path))


def bridge_topics(entries: Iterable[Mapping]) -> dict[str, str]:
    """ROS topic -> ROS type of the bridges."""
    return {e["ros_topic_name"]: e["ros_type_name"] for e in entries}


def gz_sensor_topics(urdf_xml: str) -> dict[str, str]:
    """Gazebo topic -> sensor name of every sensor in the description's <gazebo> extensions.

    An rgbd_camera publishes on <topic>/image, /depth_image, /camera_info and /points."""
    topics = {}
    for sensor in ET.fromstring(urdf_xml).iter("sensor"):
        topic = sensor.findtext("topic")
        if sensor.get("type") is None or not topic:  # <ros2_control> sensors have neither
            continue
        if sensor.get("type") == "rgbd_camera":
            topics.update({f"{topic}/{suffix}": sensor.get("name") for suffix in RGBD_TOPIC_SUFFIXES})
        else:
            topics[topic] = sensor.get("name")
    return topics
