"""The node registry: every Forma node class, by short name, from the `forma.nodes` entry points.

A package registers a node in its setup.py:
    entry_points={"forma.nodes": ["sim = forma_sim.sim_node:SimNode"]}
Deployments name nodes by these short names; the process host instantiates them.
"""

from __future__ import annotations

import importlib.metadata

from forma_bringup.errors import BringupError

GROUP = "forma.nodes"


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=GROUP)}


def available_nodes() -> list[str]:
    return sorted(_entry_points())


def node_exists(name: str) -> bool:
    return name in _entry_points()


def load_node_class(name: str) -> type:
    eps = _entry_points()
    if name not in eps:
        raise BringupError(f"unknown node {name!r}; available: {', '.join(sorted(eps))}")
    return eps[name].load()
