"""The motor-bus driver core: the hardware contract in front, MIT-mode actuators and sensor boards
behind, no ROS. One `cycle()` per control period:

1. run the contract's watchdogs and take its setpoints (ACTIVE, HOLD or DAMP already applied);
2. per bus due this cycle: bound the targets by the temperature-derated torque limit, convert to
   actuator units, send one MIT command per motor (and SYNC for the sensor boards);
3. collect the replies within the cycle's time budget and decode them;
4. check for faults — a motor silent or sending malformed frames for N consecutive cycles (one lost
   frame is only counted), motor error codes (over-temperature, encoder, voltage, ...), temperature
   past the fault threshold, bus voltage out of range — and turn any of them into contract.fault(),
   so the very next commands sent are damping commands.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence

import numpy as np

from forma_description import RobotModel
from forma_hardware.bus.io import BusPort, collect
from forma_hardware.bus.mapping import BusMapping, Calibration, derated_targets
from forma_hardware.bus.topology import BusSpec, BusTopology
from forma_hardware.config import HardwareConfig
from forma_hardware.contract import HardwareContract
from forma_hardware.protocols import mit, sensor_frames
from forma_hardware.protocols.mit import MotorError
from forma_hardware.protocols.sensor_frames import SensorFrameError
from forma_hardware.stop_latch import StopCause, StopState


@dataclasses.dataclass
class _Bus:
    spec: BusSpec
    port: BusPort
    mapping: BusMapping
    joint_index: np.ndarray  # into the driver's joint order
    every: int  # cycles between this bus's exchanges
    by_can_id: dict[int, int]  # motor CAN id -> index on the bus
    replied: np.ndarray  # this cycle
    ranges: np.ndarray  # mit.ranges_arrays of the bus's motors
    frames: dict = dataclasses.field(default_factory=dict)  # motor index -> reply bytes, this cycle
    sensors_seen: set[str] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class CycleReport:
    duration_s: float  # encode + send + receive + decode
    buses: tuple[str, ...]
    missing: int  # motors that did not answer this cycle
    faults: tuple[str, ...]  # faults declared this cycle


class BusDriver:
    """Drives the motors of the given buses through the hardware contract."""

    def __init__(
        self,
        robot: RobotModel,
        topology: BusTopology,
        hardware: HardwareConfig,
        ports: Mapping[str, BusPort],
        calibration: Calibration,
        control_rate_hz: float,
        startup_state: StopState = StopState.DAMP,
        now_s: float = 0.0,
        cycle_budget_fraction: float = 0.7,
    ) -> None:
        self.robot, self.topology, self.faults_cfg = robot, topology, topology.faults
        self.control_period_s = 1.0 / control_rate_hz
        self.budget_s = cycle_budget_fraction * self.control_period_s
        specs = [topology.bus(name) for name in ports]
        self.joint_names = [m.joint for spec in specs for m in spec.motors]
        index = {j: i for i, j in enumerate(self.joint_names)}
        infos = [robot.joint(j) for j in self.joint_names]
        limits = {
            "lower": np.array([j.lower for j in infos]),
            "upper": np.array([j.upper for j in infos]),
            "velocity": np.array([j.velocity for j in infos]),
            "effort": np.array([j.effort for j in infos]),
        }
        groups = sorted({j.group for j in infos})
        self.contract = HardwareContract(
            self.joint_names,
            [j.kind for j in infos],
            [j.group for j in infos],
            limits,
            hardware.gains,
            {g: hardware.watchdogs[g] for g in groups},
            hardware.gate,
            startup_state=startup_state,
            now_s=now_s,
        )
        self.buses: list[_Bus] = []
        for spec in specs:
            every = max(1, round(control_rate_hz / spec.rate_hz))
            self.buses.append(
                _Bus(
                    spec,
                    ports[spec.name],
                    BusMapping(spec.motors, calibration),
                    np.array([index[m.joint] for m in spec.motors]),
                    every,
                    {m.can_id: k for k, m in enumerate(spec.motors)},
                    np.zeros(len(spec.motors), bool),
                    mit.ranges_arrays([m.model.ranges for m in spec.motors]),
                )
            )
        n = len(self.joint_names)
        self.q, self.qd, self.tau = np.zeros(n), np.zeros(n), np.zeros(n)
        self.temperature_c = np.full(n, 25.0)
        self.motor_error = np.zeros(n, int)
        self.missed = np.zeros(n, int)  # consecutive cycles without a (valid) reply
        self.malformed = np.zeros(n, int)  # consecutive malformed replies
        self.replies_total = np.zeros(n, int)
        self.lost_total = np.zeros(n, int)
        self.malformed_total = 0
        self.unknown_frames = 0
        self.torque_limited_total = 0
        self.saturated_total = 0
        self.sensors: dict[str, tuple[float, ...]] = {}
        self.sensor_errors = 0
        self.cycle_index = 0
        self.ever_replied = np.zeros(n, bool)
        self.fault_reason = ""
        self.declared: set[str] = set()
        self._torque_limit = np.array([robot.joint(j).effort for j in self.joint_names])

    # --- set-up ---------------------------------------------------------------------------------
    def enable_motors(self, timeout_s: float = 0.5) -> list[str]:
        """Send 'enter motor mode' to every motor; returns the joints that did not answer."""
        for b in self.buses:
            b.replied[:] = False
            b.frames.clear()
            for m in b.spec.motors:
                b.port.send(m.can_id, mit.ENTER_MOTOR_MODE)
        self._collect(self.buses, time.monotonic() + timeout_s)
        for b in self.buses:
            self._decode(b)
        return [self.joint_names[i] for b in self.buses for k, i in enumerate(b.joint_index) if not b.replied[k]]

    def disable_motors(self) -> None:
        """'Exit motor mode' (limp) on every motor: only after the robot has been damped down."""
        for b in self.buses:
            for m in b.spec.motors:
                b.port.send(m.can_id, mit.EXIT_MOTOR_MODE)

    def set_calibration(self, calibration: Calibration) -> None:
        """New zero offsets; joint positions are recomputed from the same actuator readings."""
        p = self.actuator_positions()
        for b in self.buses:
            b.mapping.offset = np.array([calibration.offsets_rad.get(m.joint, 0.0) for m in b.spec.motors])
            i = b.joint_index
            self.q[i] = b.mapping.direction * (p[i] - b.mapping.offset) / b.mapping.ratio

    def hold_current_pose(self, now_s: float) -> None:
        """Start in HOLD at the measured pose (instead of DAMP): latched, reset needed."""
        self.contract.hold_pose("startup: waiting for reset", now_s, self.q, StopCause.STARTUP)

    def motors_not_up(self) -> list[str]:
        """Joints whose motor has never answered (their positions are unknown)."""
        return [j for j, up in zip(self.joint_names, self.ever_replied, strict=True) if not up]

    def actuator_positions(self) -> np.ndarray:
        """Last actuator-side positions in joint order (for calibration)."""
        out = np.zeros(len(self.joint_names))
        for b in self.buses:
            s, r = b.mapping.direction, b.mapping.ratio
            out[b.joint_index] = s * r * self.q[b.joint_index] + b.mapping.offset
        return out

    # --- the cycle --------------------------------------------------------------------------------
    def cycle(self, now_s: float, lock=None) -> CycleReport:
        """One control period. `lock` (e.g. the node's) guards the contract, which the node's
        command callbacks also use; it is held while computing setpoints and handling faults,
        never while waiting for the motors' replies."""
        lock = lock if lock is not None else contextlib.nullcontext()
        t0 = time.monotonic()
        due = [b for b in self.buses if self.cycle_index % b.every == 0]
        with lock:
            self.contract.tick(now_s, self.q)
            sp = self.contract.setpoints()
        for b in due:
            self._send_commands(b, sp)
        self._collect(due, t0 + self.budget_s)
        with lock:
            for b in due:
                self._decode(b)
            faults = self._check(due, now_s)
        self.cycle_index += 1
        missing = int(sum((~b.replied).sum() for b in due))
        return CycleReport(time.monotonic() - t0, tuple(b.spec.name for b in due), missing, tuple(faults))

    def _send_commands(self, b: _Bus, sp) -> None:
        i = b.joint_index
        limit = np.array(
            [m.model.torque_limit_nm(self.temperature_c[j]) * m.ratio for m, j in zip(b.spec.motors, i, strict=True)]
        )
        limit = np.minimum(limit, self._torque_limit[i])
        q_target, tau_ff, limited = derated_targets(sp.position[i], self.q[i], sp.kp[i], sp.effort[i], limit)
        self.torque_limited_total += int(limited.sum())
        p, v, kp, kd, t = b.mapping.to_actuator(q_target, sp.velocity[i], sp.kp[i], sp.kd[i], tau_ff)
        b.replied[:] = False
        b.frames.clear()
        b.sensors_seen.clear()
        frames, saturated = mit.encode_commands(p, v, kp, kd, t, b.ranges)
        self.saturated_total += int(saturated.sum())
        if b.spec.sensors:
            b.port.send(sensor_frames.SYNC_ID, b"")
        for k, m in enumerate(b.spec.motors):
            if not self.ever_replied[i[k]]:
                b.port.send(m.can_id, mit.ENTER_MOTOR_MODE)  # not up yet: keep asking it to start
            else:
                b.port.send(m.can_id, frames[k])

    def _collect(self, buses: Sequence[_Bus], deadline: float) -> None:
        if not buses:
            return
        by_name = {b.spec.name: b for b in buses}
        master = self.topology.master_id

        def wanted(name: str, msg) -> bool:
            b = by_name[name]
            if msg.arbitration_id == master:
                self._on_reply(b, bytes(msg.data))
                return True
            board = next((s for s in b.spec.sensors if sensor_frames.BOARD_IDS[s] == msg.arbitration_id), None)
            if board is not None:
                try:
                    self.sensors[board] = sensor_frames.decode(sensor_frames.BOARD_FORMATS[board], bytes(msg.data))
                    b.sensors_seen.add(board)
                except SensorFrameError:
                    self.sensor_errors += 1
                return True
            if msg.arbitration_id not in b.by_can_id and msg.arbitration_id != sensor_frames.SYNC_ID:
                self.unknown_frames += 1
            return False  # our own commands and SYNC, looped back

        def done() -> bool:
            return all(b.replied.all() and len(b.sensors_seen) == len(b.spec.sensors) for b in buses)

        collect({b.spec.name: b.port for b in buses}, wanted, done, deadline)

    def _on_reply(self, b: _Bus, data: bytes) -> None:
        """Sort a reply to its motor; decoding waits for the whole cycle (vectorised)."""
        k = b.by_can_id.get(data[0]) if data else None
        if k is None:
            self.malformed_total += 1
            self.unknown_frames += 1
            return
        if len(data) != mit.FRAME_BYTES:
            self.malformed[b.joint_index[k]] += 1
            self.malformed_total += 1
            return
        b.frames[k] = data
        b.replied[k] = True

    def _decode(self, b: _Bus) -> None:
        if not b.frames:
            return
        ks = np.fromiter(b.frames, dtype=np.intp, count=len(b.frames))
        values = mit.decode_replies([b.frames[k] for k in ks], b.ranges[ks])
        j = b.joint_index[ks]
        s, r, offset = b.mapping.direction[ks], b.mapping.ratio[ks], b.mapping.offset[ks]
        self.q[j] = s * (values[:, 0] - offset) / r
        self.qd[j] = s * values[:, 1] / r
        self.tau[j] = s * values[:, 2] * r
        self.temperature_c[j] = values[:, 3]
        self.motor_error[j] = values[:, 4].astype(int)
        self.malformed[j] = 0
        self.replies_total[j] += 1
        self.ever_replied[j] = True

    def _check(self, due: Sequence[_Bus], now_s: float) -> list[str]:
        f = self.faults_cfg
        reasons = []
        for b in due:
            i = b.joint_index
            lost = ~b.replied
            self.lost_total[i[lost]] += 1
            # silence counts only for motors that have answered before; one that never did keeps
            # the hardware from activating (all_motors_up) instead
            self.missed[i] = np.where(b.replied | ~self.ever_replied[i], 0, self.missed[i] + 1)
            for k, m in enumerate(b.spec.motors):
                j = i[k]
                if self.missed[j] == f.silent_cycles:
                    reasons.append(f"{m.joint} silent for {f.silent_cycles} cycles (bus {b.spec.name}, id {m.can_id})")
                if self.malformed[j] == f.malformed_limit:
                    reasons.append(f"{m.joint} sent {f.malformed_limit} malformed frames in a row")
                if b.replied[k] and self.motor_error[j] != MotorError.NONE:
                    code = self.motor_error[j]
                    name = MotorError(code).name if code in MotorError._value2member_map_ else f"code {code}"
                    reasons.append(f"{m.joint} reports {name}")
                if b.replied[k] and self.temperature_c[j] >= m.model.fault_temperature_c:
                    reasons.append(f"{m.joint} at {self.temperature_c[j]:.0f} C >= {m.model.fault_temperature_c:.0f} C")
        power = self.sensors.get("power")
        if power is not None and not (f.under_voltage_v <= power[0] <= f.over_voltage_v):
            reasons.append(f"bus voltage {power[0]:.1f} V outside {f.under_voltage_v}..{f.over_voltage_v} V")
        new = [r for r in dict.fromkeys(reasons) if r not in self.declared]
        if new:
            self.declared.update(new)
            self.fault_reason = "; ".join(new)
            self.contract.fault(self.fault_reason, now_s)
        return new

    def clear_faults(self) -> None:
        """Forget declared faults (after a reset): one still present is declared again next cycle."""
        self.declared.clear()
        self.missed[:] = 0
        self.malformed[:] = 0
