"""PD gains per joint, per actuator mode, from the hardware configuration."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from forma_hardware.errors import HardwareConfigError


@dataclasses.dataclass(frozen=True)
class KindGains:
    kp: float  # [N m/rad]
    kd: float  # [N m s/rad]
    damp_kd: float  # [N m s/rad]


@dataclasses.dataclass(frozen=True)
class GainSchedule:
    """Gains per joint kind; `arrays` expands them over a joint list."""

    by_kind: Mapping[str, KindGains]
    hold_gain_scale: float = 1.0

    def arrays(self, joint_kinds: Sequence[str]) -> dict[str, np.ndarray]:
        """kp, kd, damp_kd arrays in the order of joint_kinds; a missing kind is a config error."""
        missing = sorted({k for k in joint_kinds if k not in self.by_kind})
        if missing:
            raise HardwareConfigError(
                f"gains: no entry for joint kind(s) {', '.join(missing)}; add them under `gains:`"
            )
        return {
            "kp": np.array([self.by_kind[k].kp for k in joint_kinds]),
            "kd": np.array([self.by_kind[k].kd for k in joint_kinds]),
            "damp_kd": np.array([self.by_kind[k].damp_kd for k in joint_kinds]),
        }


def load_gain_schedule(gains: Mapping, hold_gain_scale: float = 1.0, where: str = "gains") -> GainSchedule:
    """Build a GainSchedule from the `gains:` mapping of the hardware config."""
    if not isinstance(gains, Mapping) or not gains:
        raise HardwareConfigError(f"{where}: expected a mapping of joint kind -> {{kp, kd, damp_kd}}")
    by_kind = {}
    for kind, entry in gains.items():
        if not isinstance(entry, Mapping) or set(entry) != {"kp", "kd", "damp_kd"}:
            raise HardwareConfigError(f"{where}.{kind}: expected exactly the keys kp, kd, damp_kd")
        values = {}
        for key in ("kp", "kd", "damp_kd"):
            v = entry[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise HardwareConfigError(f"{where}.{kind}.{key}: must be a number >= 0, got {v!r}")
            values[key] = float(v)
        by_kind[str(kind)] = KindGains(**values)
    if not (isinstance(hold_gain_scale, (int, float)) and 0.0 < hold_gain_scale <= 5.0):
        raise HardwareConfigError(f"hold_gain_scale: must be in (0, 5], got {hold_gain_scale!r}")
    return GainSchedule(by_kind=by_kind, hold_gain_scale=float(hold_gain_scale))
