"""The real ros2_control (ROS 2 Jazzy's, ../shared/ros2_control, extracted by tools/bootstrap.sh into
build/ros2_control) for integration tests: ros2_control_node and the spawner run with the
environment of ../shared/ros2_control/env.sh, each as a process of its own (stopped by its PID).
Tests that need it skip, saying why, where the tree is not (a user's clone without it)."""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import signal
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
PREFIX = REPO / "build" / "ros2_control" / "install"
NODE = PREFIX / "lib" / "controller_manager" / "ros2_control_node"
SPAWNER = PREFIX / "lib" / "controller_manager" / "spawner"
ENV_SH = REPO.parent / "shared" / "ros2_control" / "env.sh"
VENV = REPO / ".venv"
CONTROLLERS = REPO / "config" / "controllers.yaml"
MISSING = (
    "the real ros2_control is not here (../shared/ros2_control, extracted by tools/bootstrap.sh into "
    "build/ros2_control)"
)
# One controller_manager/list_controllers call, printed as {name: state} (controller_manager_msgs
# lives in the tree, beside its own libraries: it is called from a process with its environment).
_LIST_CONTROLLERS = """
import json, sys, rclpy
from controller_manager_msgs.srv import ListControllers
rclpy.init()
node = rclpy.create_node("list_controllers_probe")
client = node.create_client(ListControllers, sys.argv[1] + "/list_controllers")
assert client.wait_for_service(timeout_sec=30.0), "no list_controllers service"
future = client.call_async(ListControllers.Request())
rclpy.spin_until_future_complete(node, future, timeout_sec=30.0)
print(json.dumps({c.name: c.state for c in future.result().controller}))
"""


def available() -> bool:
    return NODE.exists() and ENV_SH.exists()


def command(argv: list[str]) -> list[str]:
    """argv run with the environment of ../shared/ros2_control/env.sh (exec: the PID is its own)."""
    quoted = " ".join(shlex.quote(a) for a in argv)
    return [
        "bash",
        "-c",
        f". {shlex.quote(str(ENV_SH))} {shlex.quote(str(VENV))} {shlex.quote(str(PREFIX))} && exec {quoted}",
    ]


def ros_env(domain_id: int) -> dict[str, str]:
    return {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def ci_overrides(folder: pathlib.Path, use_sim_time: bool = False, update_rate_hz: int | None = None) -> pathlib.Path:
    """controller_manager parameters for a shared 2-core machine: not at SCHED_FIFO 50 beside the
    other tests (../shared/ros2_control/README.md); use_sim_time for every node of the process (the
    hardware component's own node stamps the commands with its clock); another update rate [Hz]."""
    path = folder / "ci.yaml"
    text = "controller_manager:\n  ros__parameters:\n    thread_priority: 0\n"
    if update_rate_hz is not None:
        text += f"    update_rate: {int(update_rate_hz)}\n"
    if use_sim_time:
        text = "/**:\n  ros__parameters:\n    use_sim_time: true\n" + text
    path.write_text(text)
    return path


def start_controller_manager(
    domain_id: int, params_files: list[pathlib.Path], log_path: pathlib.Path, ros_args: list[str] = ()
) -> subprocess.Popen:
    argv = [str(NODE), "--ros-args"]
    for path in params_files:
        argv += ["--params-file", str(path)]
    argv += list(ros_args)
    with log_path.open("w") as log:
        return subprocess.Popen(command(argv), env=ros_env(domain_id), stdout=log, stderr=subprocess.STDOUT)


def spawn(
    domain_id: int, names: list[str] | tuple[str, ...], param_file: pathlib.Path = CONTROLLERS, inactive: bool = False
) -> subprocess.CompletedProcess:
    """The Jazzy spawner for these controllers; its exit code says whether every one got there."""
    argv = [
        str(VENV / "bin" / "python"),
        str(SPAWNER),
        *names,
        "-c",
        "/controller_manager",
        "--param-file",
        str(param_file),
        "--controller-manager-timeout",
        "60",
    ]
    if inactive:
        argv.append("--inactive")
    return subprocess.run(command(argv), env=ros_env(domain_id), capture_output=True, text=True, timeout=240)


def list_controllers(domain_id: int, manager: str = "/controller_manager") -> dict[str, str]:
    """Controller name -> state ("active", "inactive", ...) as controller_manager reports it."""
    argv = [str(VENV / "bin" / "python"), "-c", _LIST_CONTROLLERS, manager]
    done = subprocess.run(command(argv), env=ros_env(domain_id), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def stop(proc: subprocess.Popen) -> None:
    """SIGINT, then SIGKILL: ros2_control_node often aborts in its own shutdown (an upstream race,
    ../shared/ros2_control/README.md), so its exit code says nothing about Forma."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
