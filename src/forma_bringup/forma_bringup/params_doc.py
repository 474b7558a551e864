"""config/params/forma.yaml, written from the nodes' parameter classes: every parameter of every
registered node with its default, and a comment with its description, unit, range and whether it
can change at run time. `python -m forma_bringup.params_doc > config/params/forma.yaml`; a unit
test checks that the file is what this writes, so the file and the code cannot drift apart."""

from __future__ import annotations

import sys

import yaml

from forma_bringup.registry import available_nodes, load_node_class
from forma_common.params import declared

HEADER = """\
# Parameters of the Forma nodes, one section per node name (Nav2 style): every parameter with its
# default, and its description, unit and range. Written from the nodes' parameter classes by
#   python -m forma_bringup.params_doc > config/params/forma.yaml
# (tests/unit/forma_bringup/test_params_doc.py checks it; edit the classes, not this file). Deployments list it
# under `parameters:` and override single values inline; `ros2 param describe /<node> <name>`
# shows the same on a running node. Parameters are read at start (read-only) unless marked
# "changes apply live".
"""


def param_groups(node_class) -> list[tuple[type, str]]:
    """A node class's PARAMS as (params class, name prefix) pairs."""
    groups = getattr(node_class, "PARAMS", ())
    return [g if isinstance(g, tuple) else (g, "") for g in groups]


def _value(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def render() -> str:
    """The whole file."""
    lines = [HEADER]
    for name in available_nodes():
        groups = param_groups(load_node_class(name))
        if not groups:
            continue
        lines.append(f"{name}:")
        lines.append("  ros__parameters:")
        for cls, prefix in groups:
            for d in declared(cls):
                note = d.spec.text() + ("" if d.spec.read_only else "; changes apply live")
                lines.append(f"    # {note}")
                lines.append(f"    {prefix}{d.name}: {_value(d.default)}")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
