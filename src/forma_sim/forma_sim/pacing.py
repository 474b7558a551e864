"""Command pacing: in sim time, the simulation waits for its commanders rather than letting them
miss control deadlines on a busy machine (DESIGN §5: fall back to sim time).

Each command group with a live commander is followed: the newest accepted command's stamp (sim
time) and the commander's own interval, the median of its last few gaps: a controller that stalls
now and then (a whole-body controller on a loaded 2-core machine answering every 2nd-3rd period,
with 30-70 ms stalls) keeps the leash of its usual pace, so the simulation waits out the stall
instead of running on under a stale command (a running mean of the gaps grew with the stalls; the
robot jolted, IMU 10-20 m/s^2 off for tens of ms). The next period is held back while a commander lags the
simulation by more than three of its intervals (at least 6 ms, at most 60 ms: a 500 Hz
controller more than 3 periods behind holds the simulation), for at most `max_wait_s` of wall
time: a commander that stays silent that long is taken as stopped (the hardware's watchdog then
acts in sim time as designed) until it commands again.

A timer-driven commander in sim time (its stamps all /clock times: it can stamp only what /clock
told it) that has answered the newest /clock is never waited for: waiting for it to catch up
beyond that /clock waits for ever. Seen in a test run: the simulation crawled at 10 ms of sim
time per second of wall time (one `max_wait_s` per /clock), its physics thread waiting on the
100 Hz hands node, whose interval had been taken from the time between the reset and its first
command (2 ms: a 6 ms leash, shorter than the 10 ms /clock period). That gap no longer counts
either. A controller paced by joint_states (the WBC, stamps on every period) keeps its leash.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import deque

STAMP_TOLERANCE_S = 1e-6  # stamps travel as integer nanoseconds; sim time is a float sum of periods
GAPS_KEPT = 9  # the interval is the median of this many recent gaps between a commander's stamps

# A commander's interval is estimated from its stamps but capped, so a controller that slows down
# under load never earns a longer leash: the lag allowed stays <= 3 x 20 ms, well inside the body's
# 0.1 s command watchdog.
MAX_INTERVAL_S = 0.02


@dataclasses.dataclass
class _Commander:
    stamp_s: float  # the newest command's stamp (or the reset's sim time before the first one)
    interval_s: float
    commanded: bool = False  # has it commanded since the reset? (gaps are between commands only)
    on_clock: deque = dataclasses.field(default_factory=lambda: deque(maxlen=GAPS_KEPT))  # recent stamps: /clock times?
    gaps_s: deque = dataclasses.field(default_factory=lambda: deque(maxlen=GAPS_KEPT))
    waiting_since_wall_s: float | None = None
    live: bool = True

    @property
    def clock_bound(self) -> bool:
        """Its recent stamps are all /clock times: a timer in sim time, it waits for the next one."""
        return bool(self.on_clock) and all(self.on_clock)


class CommandPacer:
    def __init__(
        self, control_period_s: float, max_wait_s: float, min_lag_s: float = 0.006, clock_period_s: float = 0.0
    ) -> None:
        self.period = control_period_s
        self.clock_period_s = clock_period_s  # /clock is published at the multiples of this (0: none)
        self.max_wait_s = max_wait_s
        self.min_lag_s = min_lag_s
        self.groups: dict[str, _Commander] = {}
        self.waits = 0  # periods held back (diagnostics)
        self.gave_up = 0  # commanders taken as stopped

    def note(self, groups, stamp_s: float) -> None:
        """An accepted command for these groups, stamped stamp_s (sim time)."""
        for g in groups:
            c = self.groups.get(g)
            if c is None:
                self.expect(g, stamp_s)
                continue
            gap = stamp_s - c.stamp_s
            # (the silence of a stopped commander says nothing of its rate, nor does the time
            # from a reset to the first command)
            if gap > 0 and c.live and c.commanded:
                c.gaps_s.append(gap)
                c.interval_s = min(max(statistics.median(c.gaps_s), self.period), MAX_INTERVAL_S)
            c.stamp_s = max(c.stamp_s, stamp_s)
            c.live, c.waiting_since_wall_s, c.commanded = True, None, True
            c.on_clock.append(self._is_clock_time(stamp_s))

    def _is_clock_time(self, t_s: float) -> bool:
        if self.clock_period_s <= 0:
            return False
        return abs(t_s - round(t_s / self.clock_period_s) * self.clock_period_s) <= STAMP_TOLERANCE_S

    def expect(self, group: str, stamp_s: float) -> None:
        """The group was just reset to ACTIVE: its commander must answer within the watchdog, so
        the simulation waits for the first command as for a lagging one (the stand-up after a
        reset was latched in HOLD when a loaded machine ran 0.1 s of sim time before the
        supervisor's first command). A group nobody commands costs one `max_wait_s` of wall time."""
        self.groups[group] = _Commander(stamp_s, 0.01)

    def forget(self, group: str) -> None:
        """The group left ACTIVE (hold, damp): nobody is expected to command it."""
        self.groups.pop(group, None)

    def describe(self, sim_time_s: float, clock_s: float = math.inf) -> str:
        """Each followed group's commander: its lag, leash and state (for the log)."""
        return "; ".join(
            f"{g}: stamp {c.stamp_s:.3f} s, lag {(sim_time_s - c.stamp_s) * 1e3:.0f} ms, leash "
            f"{max(3 * c.interval_s, self.min_lag_s) * 1e3:.0f} ms, {'live' if c.live else 'taken as stopped'}, "
            f"{'clock-bound' if c.clock_bound else 'not clock-bound'} (newest /clock {clock_s:.3f} s)"
            for g, c in self.groups.items()
        )

    def may_step(self, sim_time_s: float, wall_s: float, clock_s: float = math.inf) -> bool:
        """False while a live commander lags too far behind (and has not been waited for too long).
        clock_s: the newest /clock published (none: inf); a clock-bound commander stamped at or
        after it is up to date."""
        ok = True
        for c in self.groups.values():
            if not c.live:
                continue
            up_to_date = c.clock_bound and c.stamp_s >= clock_s - STAMP_TOLERANCE_S
            if up_to_date or sim_time_s - c.stamp_s <= max(3 * c.interval_s, self.min_lag_s):
                c.waiting_since_wall_s = None
                continue
            if c.waiting_since_wall_s is None:
                c.waiting_since_wall_s = wall_s
            if wall_s - c.waiting_since_wall_s >= self.max_wait_s:
                c.live, c.waiting_since_wall_s = False, None
                self.gave_up += 1
                continue
            ok = False
        if not ok:
            self.waits += 1
        return ok
