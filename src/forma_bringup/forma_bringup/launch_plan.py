"""Deployment -> processes to start: pure code shared by `forma launch` and launch_ros.

Every deployment process becomes one OS process running `forma_process` (the process host),
which puts its nodes on one executor. Its command line and its merged parameter file are
computed here; the runner starts it with subprocess, launch/forma.launch.py with launch_ros's
Node action (launch_ros_node_kwargs). Nothing here imports rclpy or launch.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping

import yaml

from forma_bringup.deployment import Deployment, NodeSpec, ProcessSpec

PACKAGE = "forma_bringup"
PROCESS_EXECUTABLE = "forma_process"


@dataclasses.dataclass(frozen=True)
class ProcessLaunch:
    """Everything needed to start one deployment process."""

    name: str
    executable: str
    arguments: tuple[str, ...]  # process-host arguments (before --ros-args)
    ros_arguments: tuple[str, ...]  # after --ros-args
    parameters: Mapping[str, Mapping]  # content of the params file: {fqn: {ros__parameters: ...}}
    params_file: str
    env: Mapping[str, str]
    respawn: bool
    respawn_delay_s: float
    required: bool
    nice: int = 0  # 0..19
    realtime_priority: int = 0  # 0: normal scheduling (the process host applies it: --realtime-priority)
    cpus: tuple[int, ...] = ()  # () = any CPU (the process host applies it: --cpus)

    def argv(self) -> list[str]:
        return [self.executable, *self.arguments, "--ros-args", *self.ros_arguments]


def _fqn(node: NodeSpec) -> str:
    return f"{node.namespace}/{node.name}"


def _matches(key: str, node: NodeSpec) -> bool:
    """Does a params-file key apply to this node? Supports /**, name, /ns/name and /**/name."""
    key = key.strip()
    return key in ("/**", node.name, f"/{node.name}", _fqn(node), f"/**/{node.name}")


def node_parameters(deployment: Deployment, node: NodeSpec) -> dict:
    """The node's parameters: matching file entries in file order, then use_sim_time, then the
    deployment's inline values (later wins)."""
    params: dict = {}
    for path in deployment.parameter_files:
        content = yaml.safe_load(pathlib.Path(path).read_text()) or {}
        for key, entry in content.items():
            if _matches(str(key), node):
                params.update(entry.get("ros__parameters", {}) or {})
    if deployment.use_sim_time:
        params["use_sim_time"] = True
    params.update(node.parameters)
    return params


# Numeric libraries single-threaded in every process (a deployment's `env:` may say otherwise): a
# Python node runs on one core at a time anyway, and OpenBLAS's worker threads busy-wait between
# calls (measured: a fourth of a core in the perception process of the sim deployment, for nothing).
SINGLE_THREADED_MATH = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def plan_process(deployment: Deployment, process: ProcessSpec, params_dir: str | pathlib.Path) -> ProcessLaunch:
    """The launch of one process; its params file goes to params_dir/<process>.params.yaml."""
    params_file = str(pathlib.Path(params_dir) / f"{process.name}.params.yaml")
    arguments = ["--process", process.name, "--executor", process.executor]
    if process.realtime_priority:
        arguments += ["--realtime-priority", str(process.realtime_priority)]
    if process.cpus:
        arguments += ["--cpus", ",".join(str(c) for c in process.cpus)]
    ros_arguments = ["--params-file", params_file]
    parameters = {}
    for node in process.nodes:
        arguments += ["--node", f"{node.node}:{node.name}"]
        if node.namespace:
            ros_arguments += ["-r", f"{node.name}:__ns:={node.namespace}"]
        for src, dst in node.remappings.items():
            ros_arguments += ["-r", f"{node.name}:{src}:={dst}"]
        parameters[_fqn(node)] = {"ros__parameters": node_parameters(deployment, node)}
    return ProcessLaunch(
        name=process.name,
        executable=PROCESS_EXECUTABLE,
        arguments=tuple(arguments),
        ros_arguments=tuple(ros_arguments),
        parameters=parameters,
        params_file=params_file,
        env={**SINGLE_THREADED_MATH, **process.env},
        respawn=process.respawn,
        respawn_delay_s=process.respawn_delay_s,
        required=process.required,
        nice=process.nice,
        realtime_priority=process.realtime_priority,
        cpus=process.cpus,
    )


def plan_host(deployment: Deployment, host: str | None, params_dir: str | pathlib.Path) -> list[ProcessLaunch]:
    return [plan_process(deployment, p, params_dir) for p in deployment.processes(host)]


def write_params_files(plans: list[ProcessLaunch]) -> None:
    for plan in plans:
        path = pathlib.Path(plan.params_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(dict(plan.parameters), sort_keys=False))


def launch_ros_node_kwargs(plan: ProcessLaunch) -> dict:
    """Keyword arguments for launch_ros.actions.Node that start this process on a ROS 2 install.

    No `name`/`namespace`: they would rename every node of a multi-node process; names and
    namespaces travel as node-targeted remaps in ros_arguments instead.
    """
    return {
        "package": PACKAGE,
        "executable": PROCESS_EXECUTABLE,
        "arguments": list(plan.arguments),
        "ros_arguments": list(plan.ros_arguments),
        "additional_env": dict(plan.env),
        "respawn": plan.respawn,
        "respawn_delay": plan.respawn_delay_s,
        "output": "screen",
        "emulate_tty": True,
        **({"prefix": f"nice -n {plan.nice}"} if plan.nice else {}),
    }
