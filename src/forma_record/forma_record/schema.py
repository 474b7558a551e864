"""ros2msg schemas for MCAP: a message's .msg text followed by the text of every message type it
uses, as rosbag2 writes them, so a reader decodes the file with nothing but the file:

    <definition of the type>
    ================================================================================
    MSG: std_msgs/Header
    <definition of std_msgs/Header>
    ...

The texts come from the installed packages' share/<package>/msg/<Type>.msg.
"""

from __future__ import annotations

import functools
import re

from forma_record.errors import RecordError

SEPARATOR = "=" * 80
PRIMITIVES = {
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
    "int64", "uint64", "string", "wstring",
}  # fmt: skip
_FIELD = re.compile(r"^\s*([A-Za-z][\w/]*)(?:<=\d+)?(?:\[[^\]]*\])?\s+[A-Za-z]\w*\s*(=)?")


def normalize(type_name: str) -> str:
    """'sensor_msgs/msg/JointState' (ROS 2 graph) -> 'sensor_msgs/JointState' (schema name)."""
    parts = type_name.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return f"{parts[0]}/{parts[2]}"
    if len(parts) == 2:
        return type_name
    raise RecordError(f"{type_name!r} is not a message type (package/msg/Type)")


@functools.cache
def definition(type_name: str) -> str:
    """The .msg text of one type, e.g. 'std_msgs/Header'."""
    from forma_description.errors import DescriptionError
    from forma_description.paths import share_dir

    package, name = normalize(type_name).split("/")
    try:
        path = share_dir(package) / "msg" / f"{name}.msg"
    except DescriptionError as exc:
        raise RecordError(f"no message package {package!r} installed for {type_name}") from exc
    if not path.is_file():
        raise RecordError(f"{path} not found: {type_name} has no .msg definition installed")
    return path.read_text()


def dependencies(type_name: str, text: str) -> list[str]:
    """Message types a definition uses, in order of first use (constants excluded)."""
    package = normalize(type_name).split("/")[0]
    found: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        m = _FIELD.match(line)
        if not m or m.group(2):  # not a field, or a constant (type NAME=value)
            continue
        base = m.group(1)
        if base in PRIMITIVES:
            continue
        full = base if "/" in base else f"{package}/{base}"
        if full not in found:
            found.append(full)
    return found


@functools.cache
def ros2msg_schema(type_name: str) -> str:
    """The full schema text of a message type, dependencies depth-first as rosbag2 orders them."""
    root = normalize(type_name)
    text = definition(root)
    seen: list[str] = []

    def visit(name: str, body: str) -> None:
        for dep in dependencies(name, body):
            if dep in seen or dep == root:
                continue
            seen.append(dep)
            visit(dep, definition(dep))

    visit(root, text)
    parts = [text.rstrip("\n")]
    for dep in seen:
        parts += [SEPARATOR, f"MSG: {dep}", definition(dep).rstrip("\n")]
    return "\n".join(parts) + "\n"
