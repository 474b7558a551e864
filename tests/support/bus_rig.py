"""The motor-bus path in lockstep: the bus driver (forma_hardware.bus) and the actuator emulator
(forma_sim.actuator_emulator, MuJoCo as the plant) on python-can's in-process `virtual` buses,
the plant stepped by the caller one driver period at a time. What the `robot` and `hil`
deployments put between a commander and the motors (joint <-> actuator mapping, MIT frames,
torque derating, the sensor boards, the hardware contract), without wall-clock timing: the
commander's answer to cycle k's state goes out at cycle k+1, as the driver node sends it."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np

from forma_control.wbc.estimator import Sensors
from forma_description.poses import named_pose
from forma_hardware import JointCommand
from forma_hardware.bus.driver import BusDriver
from forma_hardware.bus.io import open_bus
from forma_hardware.bus.mapping import Calibration
from forma_hardware.bus.topology import load_topology
from forma_hardware.config import load_hardware_config
from forma_hardware.stop_latch import StopState
from forma_sim.actuator_emulator import ActuatorEmulator
from forma_sim.simulation import build_simulation

_rig_ids = itertools.count()


class BusRig:
    """Driver + emulated motors on private virtual buses, the plant in lockstep with the driver."""

    def __init__(self, control_rate_hz: float = 100.0, pose: str = "stand_balanced", world: str = "empty") -> None:
        self.sim = build_simulation(world=world, pose=pose, external_actuation=True)
        robot = self.sim.robot
        uid = next(_rig_ids)
        buses = [b.name for b in load_topology(robot).buses]
        overrides = {"*": {"interface": "virtual"}}
        overrides.update({b: {"channel": f"forma_bus_rig_{uid}_{b}"} for b in buses})
        topology = load_topology(robot, overrides=overrides)
        self.emulator = ActuatorEmulator(self.sim, topology, {b.name: open_bus(b) for b in topology.buses}, seed=1)
        self.driver = BusDriver(
            robot,
            topology,
            load_hardware_config(),
            {b.name: open_bus(b) for b in topology.buses},
            Calibration({}),
            control_rate_hz=control_rate_hz,
            startup_state=StopState.DAMP,
        )
        self.steps_per_cycle = round(self.driver.control_period_s / self.sim.control_period_s)
        self.names = self.driver.joint_names
        self.now_s = 1.0
        self.faults: list[str] = []
        self._running = True
        self._server = threading.Thread(target=self._serve, daemon=True)
        self._server.start()
        missing = self.driver.enable_motors(timeout_s=2.0)
        if missing:
            self.close()
            raise RuntimeError(f"motors did not answer 'enter motor mode': {missing}")
        self.cycle()
        ok, message, _ = self.driver.contract.reset(self.now_s, self.driver.q)
        if not ok:
            self.close()
            raise RuntimeError(message)
        nominal = named_pose(pose, robot)
        self.pose = np.array([nominal[robot.joint_names.index(j)] for j in self.names])

    def _serve(self) -> None:
        while self._running:
            self.emulator.serve(time.monotonic() + 0.01)

    def cycle(self) -> None:
        """One driver cycle: the commands out, the motors' and sensor boards' replies in."""
        self.now_s += self.driver.control_period_s
        self.faults.extend(self.driver.cycle(self.now_s).faults)

    def step_plant(self) -> None:
        """The plant for one driver period."""
        for _ in range(self.steps_per_cycle):
            self.emulator.step()

    def submit(self, names, position, velocity=(), effort=()) -> None:
        command = JointCommand(list(names), position, velocity, effort, stamp_s=self.now_s)
        self.driver.contract.submit(command, self.now_s)

    def sensors(self, joints: list[str]) -> Sensors:
        """What the driver node would publish this cycle, for the given joints."""
        index = np.array([self.names.index(j) for j in joints])
        s = self.driver.sensors
        imu = s["imu"]
        return Sensors(
            stamp_s=self.now_s,
            joint_positions=self.driver.q[index],
            joint_velocities=self.driver.qd[index],
            imu_orientation_wxyz=np.array(imu[0:4]),
            imu_angular_velocity=np.array(imu[4:7]),
            foot_force_z={side: float(s[f"ft_{side}"][2]) for side in ("left", "right")},
            joint_efforts=self.driver.tau[index],
        )

    def close(self) -> None:
        self._running = False
        self._server.join()
        for b in self.driver.buses:
            b.port.close()
        for port in self.emulator.buses.ports.values():
            port.close()
