"""Every parameter file a ROS node or controller_manager reads goes through rcl's own parser, the
one that decides at start-up (PyYAML accepts what rcl refuses: anchors and aliases, a list as a
key). Covered: config/controllers.yaml (ros2_control_node, gz_ros2_control, the spawner's
--param-file), config/params/*.yaml, and the per-process files that `forma launch` and
launch/forma.launch.py write for every process of every shipped deployment on every host."""

from __future__ import annotations

import pathlib

import pytest
import rclpy
from rclpy.context import Context

from forma_bringup.cli import load
from forma_bringup.launch_plan import plan_host, write_params_files

REPO = pathlib.Path(__file__).resolve().parents[3]
DEPLOYMENTS = sorted(p.stem for p in (REPO / "config" / "deployments").glob("*.yaml"))
STATIC_FILES = [REPO / "config" / "controllers.yaml", *sorted((REPO / "config" / "params").glob("*.yaml"))]


def rcl_parse(path: pathlib.Path) -> None:
    """Parse `path` as `--ros-args --params-file` does at a node's start; raises RCLError if refused."""
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(path)])
    rclpy.shutdown(context=context)


def test_rcl_refuses_what_pyyaml_accepts(tmp_path):
    """The check can fail: an aliased list (what PyYAML's safe_dump writes for a shared list)."""
    aliased = tmp_path / "aliased.yaml"
    aliased.write_text("a:\n  ros__parameters:\n    j: &id001 [x, y]\nb:\n  ros__parameters:\n    j: *id001\n")
    with pytest.raises(Exception, match="params file"):
        rcl_parse(aliased)


@pytest.mark.parametrize("path", STATIC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_rcl_parses_the_committed_files(path):
    rcl_parse(path)


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_rcl_parses_every_process_params_file_of_the_deployment(name, tmp_path):
    deployment = load(name)
    files = []
    for host in deployment.hosts:
        plans = plan_host(deployment, host, tmp_path / host)
        write_params_files(plans)
        files += [pathlib.Path(p.params_file) for p in plans]
    assert files, f"deployment {name} plans no process"
    for path in files:
        rcl_parse(path)
