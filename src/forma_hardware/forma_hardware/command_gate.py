"""Validation of joint commands where they meet the actuators.

Reject vs clamp (DESIGN §4): NaN/inf, unknown or repeated joint names, array lengths that do not
match the names, missing or stale stamps reject the whole command. A target beyond a joint limit
by less than the clamp margin is clamped to the limit and reported; beyond the margin the whole
command is rejected. Nothing is changed silently: every clamp is listed in the result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from forma_hardware.errors import CommandRejected, HardwareConfigError


@dataclasses.dataclass(frozen=True)
class JointCommand:
    """A command for any subset of joints, as carried by hardware/joint_commands.

    position [rad] and velocity [rad/s] are PD targets, effort [N m] a feed-forward torque;
    each is either empty (not commanded) or one value per name. stamp_s is the header stamp [s].
    """

    names: Sequence[str]
    position: Sequence[float] = ()
    velocity: Sequence[float] = ()
    effort: Sequence[float] = ()
    stamp_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class GateLimits:
    """How strict the gate is. Margins are how far past a limit a target is clamped, not refused."""

    position_margin_rad: float = 0.02  # [rad]
    velocity_margin_fraction: float = 0.05  # of the joint's velocity limit
    effort_margin_fraction: float = 0.05  # of the joint's effort limit
    max_age_s: float = 0.10  # commands older than this are stale [s]
    max_future_s: float = 0.05  # stamps further ahead than this mean a clock mismatch [s]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (math.isfinite(value) and value >= 0.0):
                raise HardwareConfigError(f"{field.name} must be a finite number >= 0, got {value}")


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What a command's joint names select, checked once per distinct name list: the same
    commanders send the same names every period (the WBC 38 joints, each hand 22)."""

    indices: np.ndarray
    groups: frozenset[str]
    position_bounds: tuple[np.ndarray, np.ndarray, np.ndarray]  # lower, upper, clamp margin
    velocity_bounds: tuple[np.ndarray, np.ndarray, np.ndarray]
    effort_bounds: tuple[np.ndarray, np.ndarray, np.ndarray]


LAYOUT_CACHE_SIZE = 32  # distinct name lists remembered (commanders x the subsets they send)


@dataclasses.dataclass(frozen=True)
class GatedCommand:
    """An accepted command: joint indices plus the (possibly clamped) targets."""

    indices: np.ndarray
    position: np.ndarray | None
    velocity: np.ndarray | None
    effort: np.ndarray | None
    groups: frozenset[str]
    clamped: tuple[str, ...]  # one human-readable line per clamped value


class CommandGate:
    """Checks JointCommands against the joint table of one robot."""

    def __init__(
        self,
        joint_names: Sequence[str],
        lower: np.ndarray,
        upper: np.ndarray,
        velocity_limit: np.ndarray,
        effort_limit: np.ndarray,
        groups: Sequence[str],
        limits: GateLimits = GateLimits(),
    ) -> None:
        self.joint_names = list(joint_names)
        self.index = {name: i for i, name in enumerate(self.joint_names)}
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.velocity_limit = np.asarray(velocity_limit, float)
        self.effort_limit = np.asarray(effort_limit, float)
        self.groups = np.asarray(groups)
        self.limits = limits
        self._layouts: dict[tuple[str, ...], _Layout] = {}

    def _layout(self, names: tuple[str, ...]) -> _Layout:
        """The checked layout of a name list (cached): refuses empty, repeated or unknown names."""
        layout = self._layouts.get(names)
        if layout is not None:
            return layout
        n = len(names)
        if n == 0:
            raise CommandRejected("command names no joints")
        if len(set(names)) != n:
            dupes = sorted({name for name in names if names.count(name) > 1})
            raise CommandRejected(f"joint names repeated in one command: {', '.join(dupes)}")
        unknown = [name for name in names if name not in self.index]
        if unknown:
            raise CommandRejected(
                f"unknown joint name(s): {', '.join(unknown[:5])}"
                + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else "")
                + "; names are those of the robot description, e.g. left_knee"
            )
        idx = np.fromiter((self.index[name] for name in names), dtype=np.intp, count=n)
        m = self.limits
        vmax, tmax = self.velocity_limit[idx], self.effort_limit[idx]
        layout = _Layout(
            indices=idx,
            groups=frozenset(self.groups[idx].tolist()),
            position_bounds=(self.lower[idx], self.upper[idx], np.full(n, m.position_margin_rad)),
            velocity_bounds=(-vmax, vmax, vmax * m.velocity_margin_fraction),
            effort_bounds=(-tmax, tmax, tmax * m.effort_margin_fraction),
        )
        if len(self._layouts) >= LAYOUT_CACHE_SIZE:
            self._layouts.pop(next(iter(self._layouts)))
        self._layouts[names] = layout
        return layout

    def check(self, cmd: JointCommand, now_s: float) -> GatedCommand:
        """Validate `cmd` at time now_s [s]; raise CommandRejected with the reason if it fails."""
        names = tuple(cmd.names)
        n = len(names)
        layout = self._layout(names)
        arrays = {}
        for field in ("position", "velocity", "effort"):
            values = getattr(cmd, field)
            if len(values) not in (0, n):
                raise CommandRejected(
                    f"{field} has {len(values)} values for {n} joint names; give one per name or none"
                )
            arrays[field] = np.asarray(values, float) if len(values) else None
        if all(a is None for a in arrays.values()):
            raise CommandRejected("command carries no position, velocity or effort")
        for field, values in arrays.items():
            if values is not None and not np.all(np.isfinite(values)):
                bad = names[int(np.flatnonzero(~np.isfinite(values))[0])]
                raise CommandRejected(f"{field} of {bad} is not a finite number")
        self._check_stamp(cmd.stamp_s, now_s)

        clamped: list[str] = []
        for field, bounds, unit in (
            ("position", layout.position_bounds, "rad"),
            ("velocity", layout.velocity_bounds, "rad/s"),
            ("effort", layout.effort_bounds, "N m"),
        ):
            if arrays[field] is not None:
                arrays[field] = self._bounded(field, names, arrays[field], *bounds, unit, clamped)
        return GatedCommand(
            indices=layout.indices,
            position=arrays["position"],
            velocity=arrays["velocity"],
            effort=arrays["effort"],
            groups=layout.groups,
            clamped=tuple(clamped),
        )

    def _check_stamp(self, stamp_s: float, now_s: float) -> None:
        if not math.isfinite(stamp_s) or stamp_s <= 0.0:
            raise CommandRejected("command has no header stamp; stamp it with the node's clock")
        age = now_s - stamp_s
        if age > self.limits.max_age_s:
            raise CommandRejected(
                f"command is stale: stamped {age * 1e3:.0f} ms ago (limit {self.limits.max_age_s * 1e3:.0f} ms);"
                " is the commander's use_sim_time set like the simulation's?"
            )
        if -age > self.limits.max_future_s:
            raise CommandRejected(
                f"command stamped {-age * 1e3:.0f} ms in the future; clocks disagree"
                " (use_sim_time set differently on commander and hardware?)"
            )

    @staticmethod
    def _bounded(field, names, values, lo, hi, margin, unit, clamped):
        below, above = values < lo, values > hi
        if not (below.any() or above.any()):
            return values
        too_far = (values < lo - margin) | (values > hi + margin)
        if too_far.any():
            k = int(np.flatnonzero(too_far)[0])
            raise CommandRejected(
                f"{names[k]} {field} {values[k]:.3f} {unit} is outside its limits "
                f"[{lo[k]:.3f}, {hi[k]:.3f}] {unit} by more than the clamp margin {margin[k]:.3f}"
            )
        out = np.clip(values, lo, hi)
        for k in np.flatnonzero(below | above):
            clamped.append(f"{names[k]} {field} {values[k]:.3f} clamped to {out[k]:.3f} {unit}")
        return out
