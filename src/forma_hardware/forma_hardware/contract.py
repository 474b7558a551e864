"""The hardware contract as one object: what a hardware node (sim or bus driver) asks of it.

submit() takes commands through the gate into per-joint targets; tick() runs the watchdogs;
setpoints() gives, for every joint, the five numbers an actuator driver needs — kp, kd,
position and velocity targets, feed-forward torque (the "MIT mode" set) — with the stop states
and actuator modes already applied. The sim turns them into MuJoCo actuator parameters, the bus
driver into motor frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from forma_hardware.command_gate import CommandGate, GatedCommand, GateLimits, JointCommand
from forma_hardware.errors import CommandRejected, HardwareConfigError
from forma_hardware.gains import GainSchedule
from forma_hardware.stop_latch import ActuatorMode, StopCause, StopLatch, StopState, Transition, WatchdogConfig


@dataclasses.dataclass(frozen=True)
class ActuatorSetpoints:
    """Per-joint actuator setpoints, in the contract's joint order."""

    kp: np.ndarray  # [N m/rad]
    kd: np.ndarray  # [N m s/rad]
    position: np.ndarray  # [rad]
    velocity: np.ndarray  # [rad/s]
    effort: np.ndarray  # feed-forward [N m]
    version: int  # increases whenever any value changes


class HardwareContract:
    """Command gate + stop latch + actuator modes + gains for one robot."""

    def __init__(
        self,
        joint_names: Sequence[str],
        joint_kinds: Sequence[str],
        joint_groups: Sequence[str],
        limits: Mapping[str, np.ndarray],
        gains: GainSchedule,
        watchdogs: Mapping[str, WatchdogConfig],
        gate_limits: GateLimits = GateLimits(),
        startup_state: StopState = StopState.HOLD,
        initial_positions: np.ndarray | None = None,
        now_s: float = 0.0,
    ) -> None:
        self.joint_names = list(joint_names)
        n = len(self.joint_names)
        self.groups = np.asarray(joint_groups)
        missing = sorted(set(self.groups.tolist()) - set(watchdogs))
        if missing:
            raise HardwareConfigError(f"watchdogs: no entry for group(s) {', '.join(missing)}")
        self.group_masks = {g: self.groups == g for g in watchdogs}
        self.gate = CommandGate(
            self.joint_names,
            limits["lower"],
            limits["upper"],
            limits["velocity"],
            limits["effort"],
            self.groups,
            gate_limits,
        )
        g = gains.arrays(joint_kinds)
        self.kp, self.kd, self.damp_kd = g["kp"], g["kd"], g["damp_kd"]
        self.hold_scale = gains.hold_gain_scale
        self.latch = StopLatch(watchdogs, startup_state, now_s)
        self.modes = {grp: ActuatorMode.POSITION for grp in watchdogs}
        q0 = np.zeros(n) if initial_positions is None else np.asarray(initial_positions, float).copy()
        self.q_target, self.qd_target, self.tau_ff = q0.copy(), np.zeros(n), np.zeros(n)
        self.q_hold = q0.copy()
        self.commands_accepted = 0
        self.commands_rejected = 0
        self.commands_clamped = 0
        self.last_reject_reason = ""
        self.last_clamp = ""
        self._version = 0
        self._setpoints: ActuatorSetpoints | None = None

    # --- inputs --------------------------------------------------------------------------
    def submit(self, cmd: JointCommand, now_s: float) -> GatedCommand:
        """Apply a command or raise CommandRejected (counted, with the reason kept)."""
        try:
            gated = self.gate.check(cmd, now_s)
            latched = [grp for grp in sorted(gated.groups) if self.latch.state(grp) != StopState.ACTIVE]
            if latched:
                st = self.latch.groups[latched[0]]
                raise CommandRejected(
                    f"group {latched[0]} is latched in {st.state.name} ({st.reason}); "
                    "call reset (safety supervisor) before commanding it"
                )
        except CommandRejected as exc:
            self.commands_rejected += 1
            self.last_reject_reason = str(exc)
            raise
        idx = gated.indices
        if gated.position is not None:
            self.q_target[idx] = gated.position
        self.qd_target[idx] = gated.velocity if gated.velocity is not None else 0.0
        self.tau_ff[idx] = gated.effort if gated.effort is not None else 0.0
        self.latch.command_received(gated.groups, now_s)
        self.commands_accepted += 1
        if gated.clamped:
            self.commands_clamped += 1
            self.last_clamp = "; ".join(gated.clamped)
        self._changed()
        return gated

    def tick(self, now_s: float, measured_q: np.ndarray) -> list[Transition]:
        """Run the watchdogs; a group entering HOLD latches its pose (see _apply)."""
        transitions = self.latch.update(now_s)
        self._apply(transitions, measured_q)
        return transitions

    def estop(
        self, engage: bool, reason: str, now_s: float, cause: StopCause = StopCause.ESTOP_SERVICE
    ) -> list[Transition]:
        transitions = self.latch.estop(engage, reason, now_s, cause)
        self._apply(transitions, None)
        return transitions

    def fault(self, reason: str, now_s: float) -> list[Transition]:
        transitions = self.latch.damp_all(f"fault: {reason}", now_s)
        self._apply(transitions, None)
        return transitions

    def hold_group(
        self,
        group: str,
        reason: str,
        now_s: float,
        measured_q: np.ndarray,
        cause: StopCause = StopCause.COMMAND_TIMEOUT,
    ) -> list[Transition]:
        """An ACTIVE group to HOLD as its watchdog would (its last targets in POSITION mode): for a
        command timeout seen above the hardware, where the commands it receives stay fresh (under
        ros2_control the controllers keep streaming a dead commander's last targets)."""
        if group not in self.group_masks:
            raise HardwareConfigError(f"unknown group {group!r}; groups: {', '.join(self.group_masks)}")
        transitions = self.latch.hold(group, reason, now_s, cause)
        self._apply(transitions, measured_q)
        return transitions

    def hold_pose(
        self, reason: str, now_s: float, measured_q: np.ndarray, cause: StopCause = StopCause.HOLD_REQUESTED
    ) -> list[Transition]:
        """Every group to HOLD at the measured pose (a hardware node starting up holding still)."""
        self.q_target[:] = measured_q
        transitions = self.latch.hold_all(reason, now_s, cause)
        self._apply(transitions, measured_q)
        return transitions

    def reset(self, now_s: float, measured_q: np.ndarray) -> tuple[bool, str, list[Transition]]:
        """Activate every group, targets set to the measured pose so nothing lunges."""
        ok, message, transitions = self.latch.reset(now_s)
        if ok:
            self.q_target[:] = measured_q
            self.qd_target[:] = 0.0
            self.tau_ff[:] = 0.0
            self._changed()
        return ok, message, transitions

    def set_mode(self, group: str, mode: ActuatorMode) -> None:
        groups = list(self.modes) if group == "all" else [group]
        for grp in groups:
            if grp not in self.modes:
                raise HardwareConfigError(f"unknown group {group!r}; groups: {', '.join(self.modes)}, all")
        for grp in groups:
            self.modes[grp] = ActuatorMode(mode)
        self._changed()

    # --- outputs -------------------------------------------------------------------------
    def setpoints(self) -> ActuatorSetpoints:
        if self._setpoints is not None and self._setpoints.version == self._version:
            return self._setpoints
        kp, kd = self.kp.copy(), self.kd.copy()
        q, qd, tau = self.q_target.copy(), self.qd_target.copy(), self.tau_ff.copy()
        for grp, mask in self.group_masks.items():
            state, mode = self.latch.state(grp), self.modes[grp]
            if state == StopState.DAMP or (state == StopState.ACTIVE and mode == ActuatorMode.DAMPING):
                kp[mask], kd[mask], qd[mask], tau[mask] = 0.0, self.damp_kd[mask], 0.0, 0.0
            elif state == StopState.HOLD:
                kp[mask] *= self.hold_scale
                kd[mask] *= self.hold_scale
                q[mask], qd[mask], tau[mask] = self.q_hold[mask], 0.0, 0.0
            elif mode == ActuatorMode.TORQUE:
                kp[mask], kd[mask] = 0.0, 0.0
        self._setpoints = ActuatorSetpoints(kp, kd, q, qd, tau, self._version)
        return self._setpoints

    def group_states(self) -> dict[str, tuple[StopState, ActuatorMode, str]]:
        return {g: (st.state, self.modes[g], st.reason) for g, st in self.latch.groups.items()}

    def group_causes(self) -> dict[str, StopCause]:
        """Why each group is in its stop state (StopCause.NONE when ACTIVE)."""
        return {g: st.cause for g, st in self.latch.groups.items()}

    @property
    def estop_engaged(self) -> bool:
        return self.latch.estop_engaged

    def _apply(self, transitions: list[Transition], measured_q: np.ndarray | None) -> None:
        if not transitions:
            return
        for tr in transitions:
            if tr.new == StopState.HOLD:
                # Hold where the group was being held: its last position targets. Latching the
                # measured pose instead lets a loaded joint droop (q = q* - tau/kp) a second time
                # around the drooped pose; measured here, a joint-PD stand then tips over within
                # 2 s. In TORQUE/DAMPING mode there are no valid targets: hold the measured pose.
                mask = self.group_masks[tr.group]
                if self.modes[tr.group] == ActuatorMode.POSITION or measured_q is None:
                    self.q_hold[mask] = self.q_target[mask]
                else:
                    self.q_hold[mask] = measured_q[mask]
        self._changed()

    def _changed(self) -> None:
        self._version += 1
