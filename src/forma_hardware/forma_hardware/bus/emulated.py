"""Emulated buses: every motor and sensor board of a topology answering over python-can ports,
with fault injection. The plant (where positions and torques come from) is the caller's:
forma_sim.actuator_emulator couples it to MuJoCo; tests can use a trivial one."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Mapping

from forma_hardware.bus.firmware import BusFaults, MotorFirmware, maybe_damage
from forma_hardware.bus.io import BusPort, collect
from forma_hardware.bus.topology import BusTopology
from forma_hardware.errors import HardwareConfigError
from forma_hardware.protocols import sensor_frames

FAULTS = ("drop_frames", "bit_errors", "silent", "encoder_error", "temperature", "voltage", "clear")


class EmulatedBuses:
    """Motors and sensor boards of the topology's buses, answering on `ports`."""

    def __init__(
        self,
        topology: BusTopology,
        ports: Mapping[str, BusPort],
        sensor_values: Callable[[str], tuple[float, ...]],
        seed: int = 0,
        lock=None,
    ) -> None:
        self.topology = topology
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self.ports = dict(ports)
        self.sensor_values = sensor_values
        self.rng = random.Random(seed)
        self.specs = {name: topology.bus(name) for name in ports}
        self.motors = {m.joint: MotorFirmware(m) for spec in self.specs.values() for m in spec.motors}
        self.by_bus_id = {
            (spec.name, m.can_id): self.motors[m.joint] for spec in self.specs.values() for m in spec.motors
        }
        self.bus_faults = {name: BusFaults() for name in ports}
        # Optional plant hooks: motor_state(joint) -> (p, v, t) actuator side, read just before the
        # motor replies; on_command() after every command frame.
        self.motor_state: Callable[[str], tuple[float, float, float]] | None = None
        self.on_command: Callable[[], None] | None = None
        self.voltage_override: float | None = None
        self.frames_in = 0
        self.frames_out = 0

    # --- serving --------------------------------------------------------------------------------
    def serve(self, deadline: float) -> None:
        """Answer every frame that arrives before deadline (time.monotonic())."""
        collect(self.ports, self._on_frame, lambda: False, deadline)

    def _on_frame(self, bus: str, msg) -> bool:
        with self.lock:  # the plant's thread updates the motors' states
            return self._handle(bus, msg)

    def _handle(self, bus: str, msg) -> bool:
        port = self.ports[bus]
        motor = self.by_bus_id.get((bus, msg.arbitration_id))
        if motor is not None:
            self.frames_in += 1
            if self.motor_state is not None:
                motor.position, motor.velocity, motor.torque = self.motor_state(motor.spec.joint)
            reply = motor.on_frame(bytes(msg.data))
            if self.on_command is not None:
                self.on_command()
            if reply is not None:
                self._send(port, bus, self.topology.master_id, reply)
            return True
        if msg.arbitration_id == sensor_frames.SYNC_ID:
            for board in self.specs[bus].sensors:
                values = self.sensor_values(board)
                if board == "power" and self.voltage_override is not None:
                    values = (self.voltage_override, *values[1:])
                frame = sensor_frames.encode(sensor_frames.BOARD_FORMATS[board], values)
                self._send(port, bus, sensor_frames.BOARD_IDS[board], frame)
            return True
        return False  # our own replies, looped back

    def _send(self, port: BusPort, bus: str, arbitration_id: int, frame: bytes) -> None:
        frame = maybe_damage(frame, self.bus_faults[bus], self.rng)
        if frame is not None:
            port.send(arbitration_id, frame)
            self.frames_out += 1

    # --- faults ---------------------------------------------------------------------------------
    def inject(self, fault: str, target: str = "", value: float = 0.0) -> str:
        """Inject a fault; returns what was done. Bad requests raise HardwareConfigError."""
        if fault not in FAULTS:
            raise HardwareConfigError(f"unknown fault {fault!r}; faults: {', '.join(FAULTS)}")
        if fault == "clear":
            for m in self.motors.values():
                m.faults.silent = m.faults.encoder_error = False
                m.faults.temperature_c = None
            for f in self.bus_faults.values():
                f.drop_probability = f.corrupt_probability = 0.0
            self.voltage_override = None
            return "all faults cleared"
        if fault in ("drop_frames", "bit_errors"):
            if target not in self.bus_faults:
                raise HardwareConfigError(f"{fault}: unknown bus {target!r}; buses: {', '.join(self.bus_faults)}")
            if not 0.0 <= value <= 1.0:
                raise HardwareConfigError(f"{fault}: probability {value} outside 0..1")
            field = "drop_probability" if fault == "drop_frames" else "corrupt_probability"
            setattr(self.bus_faults[target], field, value)
            return f"{fault} on bus {target}: p = {value}"
        if fault == "voltage":
            self.voltage_override = value
            return f"bus voltage forced to {value} V"
        if target not in self.motors:
            raise HardwareConfigError(f"{fault}: unknown joint {target!r}")
        m = self.motors[target]
        if fault == "silent":
            m.faults.silent = bool(value)
        elif fault == "encoder_error":
            m.faults.encoder_error = bool(value)
        else:
            m.faults.temperature_c = value
        return f"{fault} on {target}: {value}"
