"""Per-group stop states with command watchdogs, e-stop and reset (DESIGN §4).

ACTIVE -> HOLD when a group gets no valid command within its timeout; HOLD -> DAMP when the hold
lasts past its time; e-stop or a fault -> DAMP for every group. HOLD and DAMP latch: only
reset() (refused while the e-stop is engaged) returns the groups to ACTIVE, and a group's
watchdog then counts from the reset.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence

from forma_hardware.errors import HardwareConfigError


class StopState(enum.IntEnum):
    """Values match forma_interfaces/HardwareState."""

    ACTIVE = 0
    HOLD = 1
    DAMP = 2


class StopCause(enum.IntEnum):
    """Why a group is in its stop state, for programs (the reason text is for people): values
    match forma_interfaces/HardwareState's CAUSE_* constants. Consumers decide on these, never
    on the wording of a reason."""

    NONE = 0  # ACTIVE
    STARTUP = 1  # waiting for the first reset
    COMMAND_TIMEOUT = 2  # no valid command within the watchdog's timeout: HOLD
    HOLD_ESCALATED = 3  # HOLD lasted hold_to_damp_s: DAMP
    ESTOP_TOPIC = 4  # the operator's safety/estop topic
    ESTOP_SERVICE = 5  # hardware/estop (its reason names the caller)
    FAULT = 6  # a hardware or simulation fault
    HOLD_REQUESTED = 7  # the hardware node itself holds the measured pose


class ActuatorMode(enum.IntEnum):
    """Values match forma_interfaces/SetActuatorMode."""

    POSITION = 0
    TORQUE = 1
    DAMPING = 2


@dataclasses.dataclass(frozen=True)
class WatchdogConfig:
    timeout_s: float  # ACTIVE -> HOLD after this long without a valid command [s]
    hold_to_damp_s: float  # HOLD -> DAMP after this long in HOLD [s]

    def __post_init__(self) -> None:
        for name in ("timeout_s", "hold_to_damp_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise HardwareConfigError(f"watchdog {name} must be > 0, got {v}")


@dataclasses.dataclass
class GroupStatus:
    state: StopState
    reason: str
    since_s: float  # when the group entered its state
    last_command_s: float  # last valid command (or reset) [s]
    cause: StopCause = StopCause.NONE


@dataclasses.dataclass(frozen=True)
class Transition:
    group: str
    old: StopState
    new: StopState
    reason: str
    cause: StopCause = StopCause.NONE


class StopLatch:
    """The stop-state machine of every command group."""

    def __init__(
        self,
        watchdogs: Mapping[str, WatchdogConfig],
        startup_state: StopState = StopState.HOLD,
        now_s: float = 0.0,
    ) -> None:
        if startup_state == StopState.ACTIVE:
            raise HardwareConfigError("startup state must be HOLD or DAMP: only a reset activates")
        self.watchdogs = dict(watchdogs)
        reason = "startup: waiting for reset"
        self.groups = {g: GroupStatus(startup_state, reason, now_s, now_s, StopCause.STARTUP) for g in self.watchdogs}
        self.estop_engaged = False

    def state(self, group: str) -> StopState:
        return self.groups[group].state

    def command_received(self, groups: Sequence[str] | frozenset[str], now_s: float) -> None:
        for g in groups:
            self.groups[g].last_command_s = now_s

    def update(self, now_s: float) -> list[Transition]:
        """Run the watchdogs at time now_s; return the transitions they caused."""
        out = []
        for g, st in self.groups.items():
            wd = self.watchdogs[g]
            if st.state == StopState.ACTIVE and now_s - st.last_command_s > wd.timeout_s:
                why = f"no command for {wd.timeout_s:.2f} s"
                out.append(self._set(g, StopState.HOLD, why, now_s, StopCause.COMMAND_TIMEOUT))
            elif st.state == StopState.HOLD and now_s - st.since_s > wd.hold_to_damp_s:
                why = f"hold lasted {wd.hold_to_damp_s:.1f} s"
                out.append(self._set(g, StopState.DAMP, why, now_s, StopCause.HOLD_ESCALATED))
        return out

    def estop(
        self, engage: bool, reason: str, now_s: float, cause: StopCause = StopCause.ESTOP_SERVICE
    ) -> list[Transition]:
        self.estop_engaged = engage
        if not engage:
            return []
        return self.damp_all(f"e-stop: {reason}" if reason else "e-stop", now_s, cause)

    def damp_all(self, reason: str, now_s: float, cause: StopCause = StopCause.FAULT) -> list[Transition]:
        """Fault or e-stop: every group damps."""
        return [
            self._set(g, StopState.DAMP, reason, now_s, cause)
            for g in self.groups
            if self.groups[g].state != StopState.DAMP
        ]

    def hold_all(self, reason: str, now_s: float, cause: StopCause = StopCause.HOLD_REQUESTED) -> list[Transition]:
        """Every group to HOLD (a hardware node that starts holding its measured pose)."""
        return [self._set(g, StopState.HOLD, reason, now_s, cause) for g in self.groups]

    def hold(
        self, group: str, reason: str, now_s: float, cause: StopCause = StopCause.HOLD_REQUESTED
    ) -> list[Transition]:
        if self.groups[group].state != StopState.ACTIVE:
            return []
        return [self._set(group, StopState.HOLD, reason, now_s, cause)]

    def reset(self, now_s: float) -> tuple[bool, str, list[Transition]]:
        """Leave HOLD/DAMP: every group becomes ACTIVE with its watchdog restarted."""
        if self.estop_engaged:
            return False, "e-stop is engaged: release it before reset", []
        out = []
        for g, st in self.groups.items():
            st.last_command_s = now_s
            if st.state != StopState.ACTIVE:
                out.append(self._set(g, StopState.ACTIVE, "reset", now_s, StopCause.NONE))
        return True, "all groups active; send commands within the watchdog timeouts", out

    def _set(self, group: str, new: StopState, reason: str, now_s: float, cause: StopCause) -> Transition:
        st = self.groups[group]
        tr = Transition(group, st.state, new, reason, cause)
        st.state, st.reason, st.since_s = new, ("" if new == StopState.ACTIVE else reason), now_s
        st.cause = StopCause.NONE if new == StopState.ACTIVE else cause
        return tr
