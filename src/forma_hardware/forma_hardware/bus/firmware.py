"""Emulated actuator firmware and sensor boards: what the bus sees of a motor, with faults to inject.

Used by the actuator emulator (forma_sim.actuator_emulator, with MuJoCo as the plant) and by
tests. A motor answers every command frame at once with its latest state; its PD law is
tau = kp (p* - p) + kd (v* - v) + t_ff, clipped to its temperature-derated torque limit; its
winding heats with tau^2 and cools toward ambient. Faults: silence, encoder error, a forced
temperature; per bus: dropped frames and bit errors (a corrupted frame arrives truncated, as
nothing below python-can's udp_multicast checks a CRC).
"""

from __future__ import annotations

import dataclasses
import random

from forma_hardware.bus.topology import MotorSpec
from forma_hardware.protocols import mit
from forma_hardware.protocols.mit import MitError, MotorError

THERMAL_TIME_CONSTANT_S = 600.0  # winding to ambient
HEATING_AT_CONTINUOUS_C_PER_S = 0.1  # temperature rise rate at continuous torque, from ambient


@dataclasses.dataclass
class MotorFaults:
    silent: bool = False
    encoder_error: bool = False
    temperature_c: float | None = None  # forced reading (and behaviour) when set


@dataclasses.dataclass
class BusFaults:
    drop_probability: float = 0.0  # of each reply / sensor frame
    corrupt_probability: float = 0.0  # of each reply / sensor frame


class MotorFirmware:
    """One MIT-mode motor: commands in, replies out, PD law and thermal state."""

    def __init__(self, spec: MotorSpec, ambient_c: float = 25.0) -> None:
        self.spec = spec
        self.ranges = spec.model.ranges
        self.enabled = False
        self.command = (0.0, 0.0, 0.0, 0.0, 0.0)  # p*, v*, kp, kd, t_ff (actuator side)
        self.position, self.velocity, self.torque = 0.0, 0.0, 0.0  # actuator side, from the plant
        self.ambient_c = ambient_c
        self.temperature_c = ambient_c
        self.faults = MotorFaults()
        self.zero_offset = 0.0
        self.commands_received = 0
        self.malformed_received = 0

    def on_frame(self, data: bytes) -> bytes | None:
        """Handle a frame addressed to this motor; return the reply (None when silent)."""
        if mit.is_special(data):
            code = data[7]
            if code == 0xFC:
                self.enabled = True
            elif code == 0xFD:
                self.enabled = False
                self.command = (0.0, 0.0, 0.0, 0.0, 0.0)
            elif code == 0xFE:
                self.zero_offset += self.position
        else:
            try:
                self.command = mit.decode_command(data, self.ranges)
            except MitError:
                self.malformed_received += 1
                return None
            self.commands_received += 1
        if self.faults.silent:
            return None
        return self.reply()

    def reply(self) -> bytes:
        error = MotorError.NONE
        if self.faults.encoder_error:
            error = MotorError.ENCODER_FAULT
        elif self.reported_temperature() >= self.spec.model.fault_temperature_c - 5.0:
            error = MotorError.OVER_TEMPERATURE
        return mit.encode_reply(
            self.spec.can_id,
            self.position - self.zero_offset,
            self.velocity,
            self.torque,
            self.reported_temperature(),
            int(error),
            self.ranges,
        )

    def reported_temperature(self) -> float:
        return self.faults.temperature_c if self.faults.temperature_c is not None else self.temperature_c

    def torque_limit(self) -> float:
        return self.spec.model.torque_limit_nm(self.reported_temperature())

    def gains_and_targets(self) -> tuple[float, float, float, float, float]:
        """(kp, kd, p*, v*, t_ff) actuator side; a disabled or faulted motor applies nothing."""
        if not self.enabled or self.faults.encoder_error:
            return 0.0, 0.0, 0.0, 0.0, 0.0
        p, v, kp, kd, t = self.command
        return kp, kd, p + self.zero_offset, v, t

    def heat(self, dt_s: float) -> None:
        """Integrate the winding temperature over dt_s with the applied torque."""
        load = (self.torque / self.spec.model.continuous_torque_nm) ** 2
        rise = HEATING_AT_CONTINUOUS_C_PER_S * load
        self.temperature_c += dt_s * (rise - (self.temperature_c - self.ambient_c) / THERMAL_TIME_CONSTANT_S)


def maybe_damage(frame: bytes, faults: BusFaults, rng: random.Random) -> bytes | None:
    """Apply a bus's drop / corruption faults to a frame about to be sent."""
    if faults.drop_probability and rng.random() < faults.drop_probability:
        return None
    if faults.corrupt_probability and rng.random() < faults.corrupt_probability:
        return frame[: max(1, len(frame) - 1 - rng.randrange(max(1, len(frame) - 1)))]
    return frame
