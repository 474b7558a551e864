"""The actuator emulator: the robot's motor buses answered by emulated MIT-mode firmware, with
MuJoCo as the plant, so a laptop can run the real bus driver against real gravity and contacts.

Per physics period: the plant's joint states become every motor's actuator-side position,
velocity and torque (through the same joint <-> actuator mapping the driver uses, plus each
motor's true zero offset); each motor's PD command becomes the MuJoCo actuator law of its joint,
clipped to the firmware's temperature-derated torque limit. Frames are answered in between by
forma_hardware.bus.emulated.EmulatedBuses.

The gantry: until some motor receives a stiff command (kp > 0), the plant does not move, as a
robot hanging in its gantry before its motors take over; calibration happens in that pose.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from forma_hardware.bus.emulated import EmulatedBuses
from forma_hardware.bus.io import BusPort
from forma_hardware.bus.topology import BusTopology
from forma_sim.simulation import Simulation

BATTERY_FULL_V = 50.4
BATTERY_INTERNAL_OHM = 0.05
IDLE_CURRENT_A = 2.0
THERMAL_EVERY = 50  # physics periods between thermal updates


class ActuatorEmulator:
    """Emulated buses coupled to a Simulation with external actuation."""

    def __init__(
        self,
        sim: Simulation,
        topology: BusTopology,
        ports: Mapping[str, BusPort],
        zero_offsets_rad: Mapping[str, float] | None = None,
        seed: int = 0,
        gantry: bool = True,
    ) -> None:
        if not sim.external_actuation:
            raise ValueError("the emulator needs a Simulation built with external_actuation=True")
        self.sim = sim
        self.lock = threading.RLock()
        self.buses = EmulatedBuses(topology, ports, self._sensor_values, seed=seed, lock=self.lock)
        names = sim.robot.joint_names
        self.motors = [self.buses.motors[j] for j in names if j in self.buses.motors]
        self.index = np.array([names.index(m.spec.joint) for m in self.motors])
        self.direction = np.array([float(m.spec.direction) for m in self.motors])
        self.ratio = np.array([m.spec.ratio for m in self.motors])
        offsets = zero_offsets_rad or {}
        self.offset = np.array([offsets.get(m.spec.joint, 0.0) for m in self.motors])
        self.held_by_gantry = gantry
        self.battery_charge = 0.9
        self.current_a = IDLE_CURRENT_A
        self.commands_dirty = True
        self._order = {m.spec.joint: k for k, m in enumerate(self.motors)}
        self.buses.motor_state = self._motor_state
        self.buses.on_command = self._on_command
        self._steps = 0
        self._cache_plant()

    # The firmware's view of the plant is read when a reply is built (_motor_state), and the
    # plant's actuators are rewritten only when a command arrived: nothing loops over the 82
    # motors in Python at the physics rate.
    def _cache_plant(self) -> None:
        s, r = self.direction, self.ratio
        self._p = s * r * self.sim.joint_positions()[self.index] + self.offset
        self._v = s * r * self.sim.joint_velocities()[self.index]
        self._t = s * self.sim.joint_efforts()[self.index] / r

    def _motor_state(self, joint: str) -> tuple[float, float, float]:
        k = self._order[joint]
        return float(self._p[k]), float(self._v[k]), float(self._t[k])

    def _on_command(self) -> None:
        self.commands_dirty = True

    def _apply_to_plant(self) -> None:
        n = len(self.sim.robot.joint_names)
        kp, kd, q, qd, tau, limit = (np.zeros(n) for _ in range(6))
        s, r = self.direction, self.ratio
        for k, m in enumerate(self.motors):
            kp_a, kd_a, p_a, v_a, t_a = m.gains_and_targets()
            j = self.index[k]
            kp[j], kd[j] = kp_a * r[k] ** 2, kd_a * r[k] ** 2
            q[j] = s[k] * (p_a - self.offset[k]) / r[k]
            qd[j], tau[j] = s[k] * v_a / r[k], s[k] * t_a * r[k]
            limit[j] = m.torque_limit() * r[k]
        self.sim.write_actuators(kp, kd, q, qd, tau, limit)

    def step(self) -> bool:
        """One control period of the plant; returns False while the gantry still holds it."""
        with self.lock:
            if self.held_by_gantry and any(m.enabled and m.command[2] > 0 for m in self.motors):
                self.held_by_gantry = False
            if not self.held_by_gantry:
                if self.commands_dirty:
                    self._apply_to_plant()
                    self.commands_dirty = False
                self.sim.step_control()
            self._cache_plant()
            self._steps += 1
            if self._steps % THERMAL_EVERY == 0:  # windings heat over seconds, not milliseconds
                dt = THERMAL_EVERY * self.sim.control_period_s
                for k, m in enumerate(self.motors):
                    m.torque = self._t[k]
                    m.heat(dt)
                power = float(np.sum(np.abs(self.sim.joint_efforts() * self.sim.joint_velocities())))
                self.current_a = IDLE_CURRENT_A + power / BATTERY_FULL_V
                self.battery_charge = max(0.0, self.battery_charge - self.current_a * dt / (3600.0 * 20.0))
            return not self.held_by_gantry

    def _sensor_values(self, board: str) -> tuple[float, ...]:
        sim = self.sim
        if board == "imu":
            imu = sim.imu()
            return (*imu.orientation_wxyz, *imu.angular_velocity, *imu.linear_acceleration)
        if board.startswith("ft_"):
            force, torque = sim.foot_wrench(board[3:])
            return (*force, *torque)
        if board.startswith("touch_"):
            return tuple(sim.fingertip_forces(board[6:]))
        if board == "power":
            voltage = BATTERY_FULL_V - (1.0 - self.battery_charge) * 8.0 - self.current_a * BATTERY_INTERNAL_OHM
            return (voltage, self.current_a, self.battery_charge, 30.0)
        raise KeyError(board)

    def serve(self, deadline: float) -> None:
        self.buses.serve(deadline)
