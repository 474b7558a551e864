"""Deterministic in-process lockstep: the simulation core and controller cores stepping
together, with no DDS and no wall clock (DESIGN §7: `make accept`, system tests, training).

A controller is a callable taking the Simulation (which exposes what the hardware topics carry:
joint states, IMU, foot wrenches, touch) and returning a JointCommand or None; it runs at its own
rate, a whole divisor of the control rate. Commands are stamped with sim time and go through the
same hardware contract as commands over DDS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from forma_hardware import CommandRejected, JointCommand
from forma_sim.simulation import Simulation

Controller = Callable[[Simulation], JointCommand | None]


@dataclasses.dataclass
class _Scheduled:
    name: str
    every: int  # control periods between calls
    fn: Controller


class LockstepHarness:
    """Steps a Simulation and its controllers deterministically."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.controllers: list[_Scheduled] = []
        self.period_index = 0
        self.rejections: list[tuple[float, str, str]] = []  # (time, controller, reason)

    def add_controller(self, name: str, rate_hz: float, fn: Controller) -> None:
        every = round(1.0 / (rate_hz * self.sim.control_period_s))
        if every < 1 or abs(every * rate_hz * self.sim.control_period_s - 1.0) > 1e-6:
            raise ValueError(f"controller {name}: {rate_hz} Hz must divide the control rate")
        self.controllers.append(_Scheduled(name, every, fn))

    def remove_controller(self, name: str) -> None:
        """Stop calling a controller (e.g. hand over from the start ramp to whole-body control)."""
        if not any(c.name == name for c in self.controllers):
            raise ValueError(f"no controller {name!r}; running: {', '.join(c.name for c in self.controllers)}")
        self.controllers = [c for c in self.controllers if c.name != name]

    def activate(self) -> None:
        """Reset the hardware out of its startup hold (what the safety supervisor does)."""
        if self.sim.time <= 0.0:
            self.sim.step_control()  # commands need a non-zero stamp
        ok, message, _ = self.sim.contract.reset(self.sim.time, self.sim.joint_positions())
        if not ok:
            raise RuntimeError(f"reset refused: {message}")

    def step(self) -> None:
        for c in self.controllers:
            if self.period_index % c.every == 0:
                command = c.fn(self.sim)
                if command is not None:
                    try:
                        self.sim.submit(command)
                    except CommandRejected as exc:
                        self.rejections.append((self.sim.time, c.name, str(exc)))
        self.sim.step_control()
        self.period_index += 1

    def run(self, seconds: float, observer: Callable[[Simulation], None] | None = None) -> None:
        """Step for `seconds` of sim time; observer(sim) runs after every period."""
        for _ in range(round(seconds / self.sim.control_period_s)):
            self.step()
            if observer is not None:
                observer(self.sim)
