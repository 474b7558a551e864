"""The 22 joints of one hand by their local names (`index_pip`, `thumb_cmc_rot`, `palm_arch`) and
their limits, taken from the robot description so that every number here follows the xacro."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from forma_hands.errors import HandsError

SIDES = ("left", "right")
FINGERS = ("thumb", "index", "middle", "ring", "little")
LONG_FINGERS = FINGERS[1:]
THUMB_JOINTS = ("thumb_cmc_abd", "thumb_cmc_flex", "thumb_cmc_rot", "thumb_mcp", "thumb_ip")
FINGER_JOINTS: dict[str, tuple[str, ...]] = {
    "thumb": THUMB_JOINTS,
    **{f: (f"{f}_mcp_abd", f"{f}_mcp", f"{f}_pip", f"{f}_dip") for f in LONG_FINGERS},
}
LOCAL_JOINTS: tuple[str, ...] = THUMB_JOINTS + tuple(j for f in LONG_FINGERS for j in FINGER_JOINTS[f]) + ("palm_arch",)
# Joints that curl a finger toward the palm (what "closing" moves); the rest set the hand's shape.
FLEXION_JOINTS: dict[str, tuple[str, ...]] = {
    "thumb": ("thumb_mcp", "thumb_ip"),
    **{f: (f"{f}_mcp", f"{f}_pip", f"{f}_dip") for f in LONG_FINGERS},
}


def check_side(side: str) -> str:
    if side not in SIDES:
        raise HandsError(f"hand {side!r}: valid hands are {', '.join(SIDES)}")
    return side


@dataclasses.dataclass(frozen=True)
class HandJoints:
    """One hand's joints: full names in LOCAL_JOINTS order and their limits [rad, N m]."""

    side: str
    names: tuple[str, ...]  # full joint names (with prefix and side), LOCAL_JOINTS order
    lower: Mapping[str, float]  # by local name [rad]
    upper: Mapping[str, float]
    effort: Mapping[str, float]  # [N m]

    @classmethod
    def from_robot(cls, robot, side: str, prefix: str = "") -> HandJoints:
        """From a forma_description RobotModel; refuses a description without all 22 joints."""
        check_side(side)
        by_name = {j.name: j for j in robot.joints}
        full = tuple(f"{prefix}{side}_{local}" for local in LOCAL_JOINTS)
        missing = [n for n in full if n not in by_name]
        if missing:
            raise HandsError(
                f"robot description has no {side} hand joints {', '.join(missing[:4])}"
                f"{' ...' if len(missing) > 4 else ''}; hands in it: "
                f"{', '.join(s for s in SIDES if f'{prefix}{s}_palm_arch' in by_name) or 'none'}"
            )
        info = [by_name[n] for n in full]
        return cls(
            side,
            full,
            {loc: j.lower for loc, j in zip(LOCAL_JOINTS, info, strict=True)},
            {loc: j.upper for loc, j in zip(LOCAL_JOINTS, info, strict=True)},
            {loc: j.effort for loc, j in zip(LOCAL_JOINTS, info, strict=True)},
        )

    def check(self, targets: Mapping[str, float], what: str = "targets") -> None:
        """Every one of the 22 joints present, finite and within its limits (a 1e-9 rad tolerance)."""
        missing = [j for j in LOCAL_JOINTS if j not in targets]
        if missing:
            raise HandsError(f"{what}: no value for {', '.join(missing)}")
        for j in LOCAL_JOINTS:
            q = targets[j]
            if not math.isfinite(q) or not (self.lower[j] - 1e-9 <= q <= self.upper[j] + 1e-9):
                raise HandsError(f"{what}: {j} = {q} rad outside [{self.lower[j]}, {self.upper[j]}] rad")

    def clip(self, targets: Mapping[str, float]) -> dict[str, float]:
        return {j: min(max(float(targets[j]), self.lower[j]), self.upper[j]) for j in LOCAL_JOINTS}

    def full_name(self, local: str) -> str:
        return self.names[LOCAL_JOINTS.index(local)]
