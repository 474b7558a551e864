"""hardware/joint_commands onto ros2_control's forward command controllers (no ROS here).

Under ros2_control (deployment robot_ros2_control) Forma's commanders (safety supervisor, WBC,
hands) keep sending the JointState command of DESIGN §4 — position, velocity and feed-forward
effort for any whole command group — on controllers/joint_commands; this splits each command into
the data of the group's forward_command_controllers (config/controllers.yaml: one per group and
command interface), the order their `joints` parameter gives.

What the split must refuse itself, because it is lost on the way down: the commander's stamp
(ros2_control stamps its stream with its own clock, so a stale command would look fresh to the
hardware), a command that covers a group only in part (a forward controller takes all its joints
or nothing), and a value for an interface the group has no controller for. NaN / inf are refused
here too, with the joint named (forward_command_controller would drop them without). Limits are
the hardware contract's, on the stream below: nothing is clamped here.

A commander that goes silent: the forward controllers keep their last command and
controller_manager keeps streaming it with fresh stamps, so the hardware's per-group watchdogs
never fire. CommanderWatch sees it here instead (the newest forwarded stamp of each group, against
the group's watchdog timeout of the hardware config) and the node asks the hardware to HOLD the
group (hardware/hold), as its own watchdog would have.

An empty velocity or effort field means zero, as it does for the hardware contract: the group's
velocity and effort controllers are sent zeros, so a feed-forward torque of the last commander
never outlives it (the stand-up ramp after the WBC). An empty position field leaves the position
controller's last target, as the contract keeps its last target.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from forma_hardware.command_gate import JointCommand
from forma_hardware.errors import CommandRejected, HardwareConfigError

FORWARD_COMMAND_CONTROLLER = "forward_command_controller/ForwardCommandController"
INTERFACES = ("position", "velocity", "effort")


@dataclasses.dataclass(frozen=True)
class ControllerGroup:
    """The forward command controllers of one command group (body, left_hand, right_hand)."""

    name: str
    joints: tuple[str, ...]  # in the controllers' order
    controllers: Mapping[str, str]  # interface -> controller name


def controller_groups(config: Mapping, joint_groups: Mapping[str, str]) -> list[ControllerGroup]:
    """The command groups' forward controllers from a controllers file (parsed YAML);
    joint_groups: joint name -> command group (forma_description.RobotModel)."""
    try:
        declared = config["controller_manager"]["ros__parameters"]
    except (KeyError, TypeError):
        raise HardwareConfigError("controllers file: no controller_manager.ros__parameters") from None
    groups: dict[str, dict] = {}
    for name, entry in declared.items():
        if not isinstance(entry, Mapping) or entry.get("type") != FORWARD_COMMAND_CONTROLLER:
            continue
        params = (config.get(name) or {}).get("ros__parameters") or {}
        joints, interface = tuple(params.get("joints") or ()), params.get("interface_name")
        if not joints or interface not in INTERFACES:
            raise HardwareConfigError(f"controller {name}: joints and interface_name (one of {INTERFACES}) needed")
        unknown = [j for j in joints if j not in joint_groups]
        if unknown:
            raise HardwareConfigError(f"controller {name}: unknown joint(s) {', '.join(unknown[:5])}")
        owners = {joint_groups[j] for j in joints}
        if len(owners) != 1:
            raise HardwareConfigError(f"controller {name}: joints of several groups ({', '.join(sorted(owners))})")
        group = groups.setdefault(owners.pop(), {"joints": joints, "controllers": {}})
        if set(joints) != set(group["joints"]):
            raise HardwareConfigError(f"controller {name}: not the same joints as the group's other controllers")
        if interface in group["controllers"]:
            raise HardwareConfigError(f"controllers {group['controllers'][interface]} and {name}: both {interface}")
        group["controllers"][interface] = name
    for group_name, group in groups.items():
        if "position" not in group["controllers"]:
            raise HardwareConfigError(f"group {group_name}: no position controller")
    return [ControllerGroup(n, g["joints"], dict(g["controllers"])) for n, g in groups.items()]


class ControllerCommands:
    """Splits commands into forward-controller data; refuses what cannot cross ros2_control."""

    def __init__(self, groups: Sequence[ControllerGroup], max_age_s: float = 0.10, max_future_s: float = 0.05):
        self.groups = list(groups)
        self.max_age_s, self.max_future_s = max_age_s, max_future_s
        self.group_of = {j: g for g in self.groups for j in g.joints}

    def groups_of(self, names: Sequence[str]) -> set[str]:
        """The command groups these (known) joints belong to."""
        return {self.group_of[n].name for n in names}

    def split(self, cmd: JointCommand, now_s: float) -> dict[str, list[float]]:
        """Controller name -> its `commands` data, for every controller of the groups `cmd` covers;
        raises CommandRejected (nothing sent) with the reason."""
        names = list(cmd.names)
        n = len(names)
        if n == 0 or len(set(names)) != n:
            raise CommandRejected("command names no joints, or a joint twice")
        unknown = [j for j in names if j not in self.group_of]
        if unknown:
            raise CommandRejected(f"joint(s) no controller commands: {', '.join(unknown[:5])}")
        covered = {self.group_of[j].name: self.group_of[j] for j in names}
        partial = [g.name for g in covered.values() if not set(g.joints) <= set(names)]
        if partial or sum(len(g.joints) for g in covered.values()) != n:
            sizes = ", ".join(f"{g.name} {len(g.joints)}" for g in self.groups)
            raise CommandRejected(f"{', '.join(partial)}: a forward controller takes whole groups ({sizes} joints)")
        values = {}
        for field in INTERFACES:
            given = getattr(cmd, field)
            if len(given) not in (0, n):
                raise CommandRejected(f"{field} has {len(given)} values for {n} joint names")
            values[field] = np.asarray(given, float) if len(given) else None
        if all(v is None for v in values.values()):
            raise CommandRejected("command carries no position, velocity or effort")
        for field, v in values.items():
            if v is not None and not np.all(np.isfinite(v)):
                bad = names[int(np.flatnonzero(~np.isfinite(v))[0])]
                raise CommandRejected(f"{field} of {bad} is not a finite number")
        self._check_stamp(cmd.stamp_s, now_s)
        index = {j: i for i, j in enumerate(names)}
        out: dict[str, list[float]] = {}
        for group in covered.values():
            order = [index[j] for j in group.joints]
            for field in INTERFACES:
                v = values[field]
                controller = group.controllers.get(field)
                if controller is None:
                    if v is not None and np.any(v[order] != 0.0):
                        raise CommandRejected(f"{group.name} has no {field} controller; send its {field} empty or 0")
                    continue
                if v is None and field == "position":
                    continue  # the position controller keeps its last target
                out[controller] = [0.0] * len(order) if v is None else v[order].tolist()
        return out

    def _check_stamp(self, stamp_s: float, now_s: float) -> None:
        if not math.isfinite(stamp_s) or stamp_s <= 0.0:
            raise CommandRejected("command has no header stamp; stamp it with the node's clock")
        age = now_s - stamp_s
        if age > self.max_age_s:
            limit_ms = self.max_age_s * 1e3
            raise CommandRejected(f"command is stale: stamped {age * 1e3:.0f} ms ago (limit {limit_ms:.0f} ms)")
        if -age > self.max_future_s:
            raise CommandRejected(f"command stamped {-age * 1e3:.0f} ms in the future; clocks disagree")


class CommanderWatch:
    """When each group's commander last spoke (the newest stamp forwarded for it, robot time [s]),
    and which went silent for longer than its group's watchdog timeout: each silence reported once."""

    def __init__(self, timeouts_s: Mapping[str, float]) -> None:
        self.timeouts_s = dict(timeouts_s)
        self.last_s: dict[str, float] = {}
        self.reported: set[str] = set()

    def spoke(self, groups: Sequence[str] | set[str], stamp_s: float) -> None:
        for g in groups:
            self.last_s[g] = max(stamp_s, self.last_s.get(g, -math.inf))
            self.reported.discard(g)

    def silent(self, now_s: float) -> list[str]:
        """Groups whose commander spoke once and has been silent past the timeout, not reported yet."""
        out = [
            g
            for g, last in self.last_s.items()
            if g not in self.reported and now_s - last > self.timeouts_s.get(g, math.inf)
        ]
        self.reported.update(out)
        return out

