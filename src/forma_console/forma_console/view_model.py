"""What the browser view shows, computed from messages without ROS or viser: joint-state to
display-configuration mapping and the hardware status text."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

STOP_STATE_NAMES = {0: "ACTIVE", 1: "HOLD", 2: "DAMP"}
ACTUATOR_MODE_NAMES = {0: "position", 1: "torque", 2: "damping"}


class JointStateMapper:
    """Maps joint_states (any order, any subset) onto a fixed joint order, keeping the last
    known value of joints a message leaves out."""

    def __init__(self, joint_order: Sequence[str]) -> None:
        self.joint_order = list(joint_order)
        self.index = {name: i for i, name in enumerate(self.joint_order)}
        self.configuration = np.zeros(len(self.joint_order))
        self.updates = 0

    def update(self, names: Sequence[str], positions: Sequence[float]) -> int:
        """Apply one message; returns how many of its joints are known here."""
        if len(names) != len(positions):
            return 0
        known = 0
        for name, q in zip(names, positions, strict=True):
            i = self.index.get(name)
            if i is not None and np.isfinite(q):
                self.configuration[i] = q
                known += 1
        if known:
            self.updates += 1
        return known


def hardware_status_markdown(
    groups: Sequence[str],
    stop_states: Sequence[int],
    actuator_modes: Sequence[int],
    reasons: Sequence[str],
    estop_engaged: bool,
    rejected: int,
    clamped: int,
) -> str:
    """Markdown table of the hardware node's state per command group."""
    lines = [
        "**E-STOP ENGAGED**" if estop_engaged else "e-stop released",
        "",
        "| group | state | mode | reason |",
        "|---|---|---|---|",
    ]
    for i, group in enumerate(groups):
        state = STOP_STATE_NAMES.get(stop_states[i] if i < len(stop_states) else -1, "?")
        mode = ACTUATOR_MODE_NAMES.get(actuator_modes[i] if i < len(actuator_modes) else -1, "?")
        reason = reasons[i] if i < len(reasons) else ""
        lines.append(f"| {group} | {state} | {mode} | {reason} |")
    lines += ["", f"commands rejected: {rejected}, clamped: {clamped}"]
    return "\n".join(lines)


SAFETY_MODE_NAMES = {0: "DAMPING", 1: "STANDING_UP", 2: "ACTIVE", 3: "HOLD", 4: "ESTOP", 5: "FAULT"}


def safety_markdown(mode: int, mode_name: str, reason: str, estop_engaged: bool) -> str:
    """One line for safety/state: the mode in bold, the reason after it."""
    name = mode_name or SAFETY_MODE_NAMES.get(mode, f"mode {mode}")
    text = f"**safety: {name}**" + (" — e-stop engaged" if estop_engaged else "")
    return text + (f"  \n{reason}" if reason else "")


@dataclasses.dataclass(frozen=True)
class ObjectBox:
    """A detected object as the 3D view draws it: a box in the objects' frame, and its caption."""

    key: str
    position: np.ndarray
    wxyz: np.ndarray
    size: np.ndarray
    caption: str


def object_boxes(objects) -> tuple[list[ObjectBox], list[str]]:
    """perception/objects entries -> boxes, and the reasons entries were skipped (non-finite or
    zero-length orientation, negative size). IDs name the boxes, so a tracked object keeps its box."""
    boxes, skipped = [], []
    for k, obj in enumerate(objects):
        p, o, s = obj.pose.position, obj.pose.orientation, obj.size_m
        position = np.array([p.x, p.y, p.z], float)
        wxyz = np.array([o.w, o.x, o.y, o.z], float)
        size = np.array([s.x, s.y, s.z], float)
        norm = float(np.linalg.norm(wxyz))
        key = _scene_key(obj.id) or f"n{k}"
        if not (np.all(np.isfinite(position)) and np.all(np.isfinite(size)) and np.isfinite(norm) and norm > 1e-6):
            skipped.append(f"{obj.id or k}: non-finite pose or size")
            continue
        if np.any(size < 0):
            skipped.append(f"{obj.id or k}: negative size")
            continue
        caption = " ".join(x for x in (obj.color, obj.label) if x) or "object"
        boxes.append(ObjectBox(key, position, wxyz / norm, np.maximum(size, 0.005), f"{caption} {obj.score:.2f}"))
    return boxes, skipped


def _scene_key(track_id: str) -> str:
    """A track ID as a scene-node name (viser names are paths)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in track_id)


def instruction_markdown(instruction: str, state: str, phase: str = "", progress: float | None = None) -> str:
    """The instruction panel's status: what was asked, where it is, how far."""
    lines = [f"**{instruction}**", state]
    if phase:
        lines.append(f"phase: {phase}" + (f" ({progress * 100:.0f} %)" if progress is not None else ""))
    return "  \n".join(lines)
