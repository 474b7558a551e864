"""The RViz side of teleop, checked structurally (no RViz or launch_ros on the pip side; they were
run under the real launch / launch_ros in a development session, docs/VERIFICATION.md):
config/rviz/forma.rviz is RViz2 YAML naming only rviz_default_plugins classes and only topics the
stack publishes (as its READMEs list them), with the QoS those topics need; launch/teleop.launch.py
declares what it uses and starts executables that exist."""

from __future__ import annotations

import ast
import pathlib
import re

import yaml

from forma_description.frames import RobotFrames
from forma_teleop.targets import TARGETS, TeleopConfig

REPO = pathlib.Path(__file__).resolve().parents[3]
RVIZ = REPO / "config" / "rviz" / "forma.rviz"
LAUNCH = REPO / "launch" / "teleop.launch.py"

# Class names registered by rviz_default_plugins / rviz_common (Jazzy: rviz_default_plugins/
# plugins_description.xml and rviz_common's panels), read in the ros2/rviz sources.
DISPLAYS = {
    f"rviz_default_plugins/{n}"
    for n in [
        "AccelStamped",
        "Axes",
        "Camera",
        "DepthCloud",
        "CameraInfo",
        "Effort",
        "Grid",
        "GridCells",
        "FluidPressure",
        "Illuminance",
        "Image",
        "InteractiveMarkers",
        "LaserScan",
        "Map",
        "PointCloud",
        "PointCloud2",
        "Polygon",
        "Pose",
        "PoseWithCovariance",
        "Range",
        "RelativeHumidity",
        "RobotModel",
        "Temperature",
        "TF",
        "TwistStamped",
        "Marker",
        "MarkerArray",
        "Odometry",
        "PoseArray",
        "Path",
        "PointStamped",
        "Wrench",
    ]
}
TOOLS = {
    f"rviz_default_plugins/{n}"
    for n in ["MoveCamera", "PublishPoint", "Select", "SetGoal", "Measure", "FocusCamera", "SetInitialPose", "Interact"]
}
VIEWS = {f"rviz_default_plugins/{n}" for n in ["Orbit", "XYOrbit", "TopDownOrtho", "ThirdPersonFollower", "FPS"]}
PANELS = {f"rviz_common/{n}" for n in ("Displays", "Selection", "Tool Properties", "Views", "Time")}


def documented_topics() -> set[str]:
    """Every `name` in backticks in the READMEs' topic tables, with {a,b} alternatives expanded."""
    names: set[str] = set()
    for readme in (REPO / "README.md", REPO / "src" / "forma_teleop" / "README.md"):
        for line in readme.read_text().splitlines():
            if not line.startswith("|"):
                continue
            for token in re.findall(r"`([^`]+)`", line):
                for part in token.split(" + "):
                    names |= expand(part.strip())
    return names


def expand(name: str) -> set[str]:
    m = re.search(r"\{([^}]+)\}", name)
    if m is None:
        return {name}
    return set().union(*(expand(name[: m.start()] + alt + name[m.end() :]) for alt in m.group(1).split(",")))


def rviz() -> dict:
    return yaml.safe_load(RVIZ.read_text())


def displays() -> list[dict]:
    return rviz()["Visualization Manager"]["Displays"]


def topic_of(display: dict) -> str | None:
    for key in ("Topic", "Description Topic"):
        if key in display:
            return display[key]["Value"]
    return None


def test_rviz_config_names_only_rviz_default_plugins_classes():
    config = rviz()
    assert {p["Class"] for p in config["Panels"]} <= PANELS
    manager = config["Visualization Manager"]
    unknown = [d["Class"] for d in manager["Displays"] if d["Class"] not in DISPLAYS]
    assert not unknown, f"not rviz_default_plugins displays: {unknown}"
    assert {t["Class"] for t in manager["Tools"]} <= TOOLS
    assert "rviz_default_plugins/Interact" in {t["Class"] for t in manager["Tools"]}, "markers are dragged with it"
    assert manager["Views"]["Current"]["Class"] in VIEWS
    assert manager["Transformation"]["Current"]["Class"] == "rviz_default_plugins/TF"
    classes = {d["Class"] for d in manager["Displays"]}
    for needed in ("Grid", "RobotModel", "TF", "InteractiveMarkers", "Image"):
        assert f"rviz_default_plugins/{needed}" in classes


def test_every_topic_rviz_subscribes_to_is_one_the_stack_publishes():
    published = documented_topics()
    assert {"joint_states", "robot_description", "head_camera/color/image_raw", "feet/left/wrench"} <= published
    assert {spec.topic for spec in TARGETS.values()} <= published, "the teleop README lists its targets"
    for display in displays():
        topic = topic_of(display)
        if topic is not None:
            assert topic in published, f"{display['Name']}: {topic!r} is not a topic the stack publishes"
    namespaces = [d["Interactive Markers Namespace"] for d in displays() if "InteractiveMarkers" in d["Class"]]
    assert namespaces == ["teleop"], "the teleop node's default server_namespace"
    for suffix in ("update", "feedback", "get_interactive_markers"):
        assert f"teleop/{suffix}" in published


def test_rviz_subscribes_with_the_qos_the_topics_need(urdf_xml):
    by_class = {d["Class"]: d for d in displays()}
    description = by_class["rviz_default_plugins/RobotModel"]["Description Topic"]
    assert description["Durability Policy"] == "Transient Local", "robot_description is latched: sent once"
    assert description["Reliability Policy"] == "Reliable"
    assert by_class["rviz_default_plugins/RobotModel"]["Description Source"] == "Topic"
    for display in displays():
        if "Topic" in display:
            assert display["Topic"]["Durability Policy"] == "Volatile"
            assert display["Topic"]["Reliability Policy"] in ("Reliable", "Best Effort")
    fixed = rviz()["Visualization Manager"]["Global Options"]["Fixed Frame"]
    assert fixed == TeleopConfig().frame, "RViz's fixed frame is the markers' frame (no other /tf needed for them)"
    assert RobotFrames(urdf_xml).has(fixed)


def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text())


def test_teleop_launch_declares_every_argument_it_reads_and_starts_real_executables():
    tree = launch_tree()
    declared = {
        c.args[0].value
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "DeclareLaunchArgument"
    }
    read = {
        c.args[0].value
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "arg" and isinstance(c.args[0], ast.Constant)
    }
    assert read == declared, f"read but not declared: {read - declared}; declared but unused: {declared - read}"
    nodes = [
        {k.arg: k.value.value for k in c.keywords if k.arg in ("package", "executable")}
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "Node"
    ]
    assert {(n["package"], n["executable"]) for n in nodes} == {
        ("forma_teleop", "teleop_markers"),
        ("rviz2", "rviz2"),
        ("robot_state_publisher", "robot_state_publisher"),
    }
    setup = (REPO / "src" / "forma_teleop" / "setup.py").read_text()
    assert '"teleop_markers = forma_teleop.node:main"' in setup, "the console script launch_ros starts"
    source = LAUNCH.read_text()
    assert '"config", "rviz", "forma.rviz"' in source and RVIZ.exists()
    assert '("robot_description", "robot_state_publisher/robot_description")' in source, (
        "robot_state_publisher's copy of the description must not replace the robot's own"
    )
    bringup = (REPO / "src" / "forma_bringup" / "package.xml").read_text()
    for dep in ("forma_teleop", "robot_state_publisher"):
        assert f"<exec_depend>{dep}</exec_depend>" in bringup
    assert "<exec_depend>rviz2</exec_depend>" not in bringup, "RViz runs on the operator's machine, not the robot"
