"""Deployment files written by tests, in the format of config/deployments/*.yaml (see
forma_bringup.deployment), on the one host "local":

    path = write_deployment(tmp_path, "pacing", [process("sim", node("sim", world="empty"))])

Parameter names with a dot go in as `**{"camera.rate_hz": 0.0}`."""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Mapping

import yaml


def node(
    registry_name: str,
    name: str | None = None,
    /,
    *,
    namespace: str | None = None,
    remappings: Mapping[str, str] | None = None,
    **parameters,
) -> dict:
    """A node of a process: `registry_name` from the node registry, `name` its ROS node name
    (default: the registry name), the keyword arguments its parameters."""
    spec: dict = {"node": registry_name}
    if name is not None:
        spec["name"] = name
    if namespace is not None:
        spec["namespace"] = namespace
    if parameters:
        spec["parameters"] = dict(parameters)
    if remappings is not None:
        spec["remappings"] = dict(remappings)
    return spec


def process(name: str, *nodes: dict, **process_fields) -> dict:
    """A process running `nodes`; process_fields as in the file (executor, respawn, required, nice, env...)."""
    return {"name": name, **process_fields, "nodes": list(nodes)}


def write_deployment(
    folder: str | pathlib.Path,
    name: str,
    processes: Iterable[dict],
    use_sim_time: bool | None = True,
    **fields,
) -> str:
    """Write `folder`/deployments/`name`.yaml (the file name must match the deployment's name)
    and return its path. use_sim_time=None leaves the key out (the loader's default: false);
    fields are further top-level keys (description, namespace, parameters, env)."""
    spec: dict = {"name": name}
    if use_sim_time is not None:
        spec["use_sim_time"] = use_sim_time
    spec.update(fields)
    spec["hosts"] = {"local": {"processes": list(processes)}}
    path = pathlib.Path(folder) / "deployments" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec))
    return str(path)
