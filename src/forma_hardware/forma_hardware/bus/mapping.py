"""Joint <-> actuator units, calibration and thermal derating, vectorised over a bus's motors.

    actuator position = direction * ratio * joint position + zero offset
    actuator velocity = direction * ratio * joint velocity
    actuator torque   = direction * joint torque / ratio
    actuator kp, kd   = joint kp, kd / ratio^2

The zero offset is the actuator position at joint zero, measured by the calibration procedure
(`calibrate`) with the robot held in a known pose, and stored in a calibration file.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
import yaml

from forma_hardware.bus.topology import MotorSpec
from forma_hardware.errors import HardwareConfigError


@dataclasses.dataclass
class Calibration:
    """Zero offsets [rad, actuator side] per joint; joints not listed have offset 0."""

    offsets_rad: dict[str, float]
    created: str = ""
    pose: str = ""

    @classmethod
    def load(cls, path: str | pathlib.Path) -> Calibration:
        path = pathlib.Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise HardwareConfigError(f"{path}: cannot read calibration: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise HardwareConfigError(f"{path}: calibration is not valid YAML: {exc}") from exc
        if not isinstance(raw, Mapping) or not isinstance(raw.get("offsets_rad"), Mapping):
            raise HardwareConfigError(f"{path}: expected `offsets_rad: {{joint: rad}}`")
        offsets = {}
        for joint, value in raw["offsets_rad"].items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise HardwareConfigError(f"{path}: offsets_rad.{joint} = {value!r} is not a finite number")
            offsets[str(joint)] = float(value)
        return cls(offsets, str(raw.get("created", "")), str(raw.get("pose", "")))

    def save(self, path: str | pathlib.Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a calibration."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(yaml.safe_dump({"created": self.created, "pose": self.pose, "offsets_rad": self.offsets_rad}))
        tmp.replace(path)


def calibrate(
    motors: Sequence[MotorSpec], actuator_positions: np.ndarray, pose_joint_positions: np.ndarray, pose_name: str
) -> Calibration:
    """Offsets that make the measured actuator positions read as the known calibration pose."""
    offsets = {}
    for m, p_act, q in zip(motors, actuator_positions, pose_joint_positions, strict=True):
        offsets[m.joint] = float(p_act - m.direction * m.ratio * q)
    return Calibration(offsets, datetime.datetime.now().isoformat(timespec="seconds"), pose_name)


class BusMapping:
    """The conversions for one bus's motors, as arrays in the bus's motor order."""

    def __init__(self, motors: Sequence[MotorSpec], calibration: Calibration) -> None:
        self.motors = list(motors)
        self.ratio = np.array([m.ratio for m in motors])
        self.direction = np.array([float(m.direction) for m in motors])
        self.offset = np.array([calibration.offsets_rad.get(m.joint, 0.0) for m in motors])

    def to_actuator(self, q, qd, kp, kd, tau):
        s, r = self.direction, self.ratio
        return s * r * q + self.offset, s * r * qd, kp / r**2, kd / r**2, s * tau / r

    def to_joint(self, p, v, t):
        s, r = self.direction, self.ratio
        return s * (p - self.offset) / r, s * v / r, s * t * r


def derated_targets(
    q_target: np.ndarray, q: np.ndarray, kp: np.ndarray, tau_ff: np.ndarray, torque_limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the motor's PD + feed-forward within a (temperature-derated) torque limit [joint side].

    The motor computes kp (q* - q) + tau_ff itself, so the driver can only bound its inputs: the
    feed-forward is clipped to the limit and the position target is pulled toward the measured
    position until kp |q* - q| fits in what is left. Returns (q*, tau_ff, limited mask).
    """
    tau = np.clip(tau_ff, -torque_limit, torque_limit)
    room = torque_limit - np.abs(tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        max_error = np.where(kp > 0, room / kp, np.inf)
    error = np.clip(q_target - q, -max_error, max_error)
    q_out = q + error
    limited = (tau != tau_ff) | (np.abs(q_out - q_target) > 1e-12)
    return np.where(kp > 0, q_out, q_target), tau, limited
