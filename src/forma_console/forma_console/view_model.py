"""What the browser view shows, computed from messages without ROS or viser: joint-state to
display-configuration mapping and the hardware status text."""

from __future__ import annotations

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
