"""Fault injection on a running deployment (issue 21, deliverable 3): `kill -9` or SIGSTOP (then
SIGCONT) of one of its processes while the robot stands or reaches, watched over DDS by a separate
client that reads the simulator's truth (sim/base_pose_ground_truth: the pelvis's height and tilt),
hardware/state (which group the hardware holds, stamped in robot time) and safety/state.

Signals go only to the PIDs of the `forma_process` children of the deployment the caller started
(LaunchedDeployment.process_tree), never by name.

What each fault must end in (README "Fault injection"):
- a commander (control = the WBC, hands, safety = the supervisor, whose silence stops the WBC) dead
  or stalled: the hardware holds the commanded group within its watchdog time (EXPECTED_HOLD),
  the robot keeps standing, the process comes back (respawn) and the body is commanded again only
  after the supervisor's start ramp (safety/state passes STANDING_UP before ACTIVE);
- a process that commands nothing (perception, face, tasks, vla, teleop, console): nothing holds,
  the robot stays ACTIVE and standing, the process comes back;
- the sim itself (the plant): a kill ends the deployment (required): the launcher reports it and
  stops every other process (no orphans). A stall freezes physics and sim time together: nothing
  happens in robot time, and the robot goes on when it resumes.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
import time

import psutil
from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from forma_interfaces.msg import HardwareState, SafetyState
from tests.support.fuzz_graph import alive, process_name
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

# the group each commander's death must leave held, and the robot time it may take [s]: the group's
# watchdog (src/forma_hardware/hardware.yaml) plus what the measurement adds (MARGIN_S): the HOLD is
# seen on hardware/state, published every 20 ms (50 Hz). The robot time of the signal is exact: the
# signal is sent while the sim is stopped (SIGSTOP: physics and sim time stand still) and the probe
# has read everything it sent (Truth.wait_quiet), so the newest stamp the probe has is the robot's
# time (to within a control period). Estimated from the probe's freshest /clock plus the wall time
# since, it was off by the probe's delivery lag: 0.4-0.5 s under load (a kill of `control` "held
# after 501-592 ms" while sim time ran on 0.4 s past the estimate before the sim's pacing waited for
# the dead WBC), and too late while the sim's pacing held sim time (a HOLD before it was missed). A
# supervisor's silence first stops the WBC (wbc.safety_timeout_s), then the body's watchdog runs.
BODY_WATCHDOG_S = 0.10
HAND_WATCHDOG_S = 0.25
SAFETY_SILENCE_S = 0.50  # config/params/forma.yaml wbc.safety_timeout_s
MARGIN_S = 0.10
EXPECTED_HOLD: dict[str, tuple[str, float]] = {
    "control": ("body", BODY_WATCHDOG_S + MARGIN_S),
    "hands": ("right_hand", HAND_WATCHDOG_S + MARGIN_S),
    "safety": ("body", SAFETY_SILENCE_S + BODY_WATCHDOG_S + MARGIN_S),
}
FALLEN_HEIGHT_M = 0.55  # pelvis height below this (standing ~0.9 m): fallen
FALLEN_TILT_DEG = 30.0


@dataclasses.dataclass
class Outcome:
    """What one fault did, in robot time (sim time) and by simulator truth."""

    process: str
    fault: str  # "kill" or "stop"
    posture: str  # "standing" or "reaching"
    hold_group: str = ""
    hold_ms: float | None = None  # signal -> the group's first HOLD on hardware/state [ms robot time]
    takeover_ms: float | None = None  # a respawned supervisor's start ramp took the body before any HOLD [ms]
    hold_ms_upper: float | None = None  # the same from the newest robot time the probe had read (an upper bound)
    hold_budget_ms: float | None = None
    min_height_m: float = math.inf
    max_tilt_deg: float = 0.0
    respawned: bool | None = None  # a new process of that name (None: not killed)
    modes_after: list[str] = dataclasses.field(default_factory=list)  # safety/state modes after the signal
    via_ramp: bool | None = None  # ACTIVE again only after STANDING_UP
    active_again: bool = False
    deployment_stopped: bool = False
    leftovers: list[int] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def fell(self) -> bool:
        return self.min_height_m < FALLEN_HEIGHT_M or self.max_tilt_deg > FALLEN_TILT_DEG

    def summary(self) -> str:
        hold = (
            f"{self.hold_group} HOLD after {self.hold_ms:.0f} ms (at most {self.hold_ms_upper:.0f} ms)"
            if self.hold_ms is not None
            else f"no HOLD: the respawned supervisor's ramp took the body after {self.takeover_ms:.0f} ms"
            if self.takeover_ms is not None
            else "no HOLD"
        )
        return (
            f"{self.fault} {self.process} while {self.posture}: {hold}; pelvis >= {self.min_height_m:.3f} m, "
            f"tilt <= {self.max_tilt_deg:.1f} deg; respawned {self.respawned}; modes {self.modes_after}; "
            f"via ramp {self.via_ramp}; problems {self.problems or 'none'}"
        )


class Truth:
    """The pelvis's height and tilt from the simulator, and every hardware/state and safety/state,
    each kept with its robot-time stamp (callbacks on the probe's executor)."""

    def __init__(self, probe: RosProbe) -> None:
        self.lock = threading.Lock()
        self.probe = probe
        self.poses: list[tuple[float, float, float]] = []  # (stamp, height, tilt_deg)
        self.hardware: list[tuple[float, dict[str, int]]] = []  # (stamp, group -> stop state)
        self.safety: list[tuple[float, int, str]] = []  # (stamp, mode, reason)
        self.safety_holds: list[tuple[float, str]] = []  # (stamp, reason): HOLDs the supervisor saw
        self.clock = 0.0  # the newest /clock [s]: robot time, 125 Hz
        self.received: list[tuple[float, float]] = []  # (robot time, wall time received) of each /clock
        self.clocks_taken = 0  # /clock messages taken so far
        sensors = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
        probe.on_executor(probe.node.create_subscription, Clock, "/clock", self._on_clock, sensors)
        probe.on_executor(
            probe.node.create_subscription, PoseStamped, "sim/base_pose_ground_truth", self._on_pose, sensors
        )
        probe.on_executor(
            probe.node.create_subscription,
            HardwareState,
            "hardware/state",
            self._on_hardware,
            QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE),
        )
        probe.on_executor(
            probe.node.create_subscription,
            SafetyState,
            "safety/state",
            self._on_safety,
            QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL),
        )

    def _on_clock(self, msg: Clock) -> None:
        t = msg.clock.sec + msg.clock.nanosec * 1e-9
        with self.lock:
            self.clocks_taken += 1
            self.clock = max(self.clock, t)
            self.received.append((t, time.monotonic()))
            del self.received[:-500]

    def _on_pose(self, msg: PoseStamped) -> None:
        q = msg.pose.orientation
        cos_tilt = 1.0 - 2.0 * (q.x * q.x + q.y * q.y)
        tilt = math.degrees(math.acos(max(-1.0, min(1.0, cos_tilt))))
        with self.lock:
            self.poses.append((stamp_s(msg), msg.pose.position.z, tilt))

    def _on_hardware(self, msg: HardwareState) -> None:
        with self.lock:
            self.hardware.append((stamp_s(msg), dict(zip(msg.groups, msg.stop_states, strict=False))))

    def _on_safety(self, msg: SafetyState) -> None:
        with self.lock:
            self.safety.append((stamp_s(msg), msg.mode, msg.reason))
            if msg.mode == SafetyState.HOLD and msg.cause == SafetyState.CAUSE_HARDWARE_HOLD:
                self.safety_holds.append((stamp_s(msg), msg.reason))

    def now(self) -> float:
        """The newest robot time seen (/clock, 125 Hz; the truth's or hardware/state's stamp if newer)."""
        with self.lock:
            stamps = [s[-1][0] for s in (self.poses, self.hardware) if s]
            return max([self.clock, *stamps])

    def robot_time_at(self, wall_s: float, window_s: float = 0.05) -> float:
        """The robot time at wall time wall_s, from the /clock samples of the last window_s: each
        one's stamp plus the wall time since it came, the least delayed one's (the probe reads its
        messages in bursts, up to 0.3 s late on the loaded machine: the newest stamp alone
        under-estimates). Assumes sim time runs at wall speed over the window (the sim paces to
        real time); never less than the newest stamp seen."""
        with self.lock:
            recent = [t + (wall_s - w) for t, w in self.received if wall_s - window_s <= w <= wall_s]
        return max([self.now(), *recent])

    def wait_quiet(self, quiet_s: float = 0.3, timeout_s: float = 10.0) -> bool:
        """With the sim stopped: until the probe has read the backlog the sim sent before it stopped
        (up to 1.3 s of robot time behind under load): no /clock for quiet_s of wall time, and none
        taken while the probe's executor ran three rounds (it takes a waiting message each round).
        With the quiet spell alone a kill of `control` at load 30 seemed to hold 1.7 s of robot time
        after it: most likely the probe, starved of CPU, had not read the backlog yet. False if
        that never happened within timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                count, last = self.clocks_taken, self.received[-1][1] if self.received else -math.inf
            if time.monotonic() - last < quiet_s:
                time.sleep(0.02)
                continue
            for _ in range(3):
                self.probe.on_executor(lambda: None, timeout_s=max(0.1, deadline - time.monotonic()))
            with self.lock:
                if self.clocks_taken == count:
                    return True
        return False

    def wait_caught_up(self, timeout_s: float = 5.0) -> bool:
        """Until the probe reads /clock as it comes: its last 5 samples arrived spread over about the
        robot time they span (a probe behind reads its backlog in one burst, and its newest stamp
        then lags the robot's: 0.4 s seen right after sending a reach target) and the newest is
        fresh. False if it never caught up within timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                last = self.received[-5:]
            if len(last) == 5:
                robot_span, wall_span = last[-1][0] - last[0][0], last[-1][1] - last[0][1]
                fresh = time.monotonic() - last[-1][1] < 0.02
                if fresh and robot_span > 0.0 and wall_span >= 0.7 * robot_span:
                    return True
            time.sleep(0.002)
        return False

    def mode(self, since_s: float = -math.inf) -> int | None:
        """The newest safety/state's mode, if it is stamped after since_s (None otherwise)."""
        with self.lock:
            return self.safety[-1][1] if self.safety and self.safety[-1][0] > since_s else None

    def hardware_now(self) -> float:
        """The newest hardware/state's stamp [s robot time] (-inf: none yet)."""
        with self.lock:
            return self.hardware[-1][0] if self.hardware else -math.inf

    def first_hold(self, group: str, after_s: float) -> float | None:
        """When the group's HOLD was first seen after after_s [s robot time]: on hardware/state, or
        as the supervisor reported it (`hardware holds (body: ...)`, stamped when it saw it: no
        earlier than the hardware's). hardware/state is a newest-status stream (depth 1): a HOLD
        the supervisor recovered within one 20 ms sample is one sample, which a busy probe can miss
        (seen on an idle machine: the supervisor reported it, the probe never saw it)."""
        with self.lock:
            seen = [t for t, s in self.hardware if t >= after_s and s.get(group) == HardwareState.HOLD]
            seen += [t for t, reason in self.safety_holds if t >= after_s and f"{group}:" in reason]
        return min(seen, default=None)

    def first_mode(self, mode: int, after_s: float) -> float | None:
        """When safety/state first reported `mode` after after_s [s robot time], if it did."""
        with self.lock:
            return next((t for t, m, _ in self.safety if t >= after_s and m == mode), None)

    def first_reason(self, mode: int, after_s: float) -> str | None:
        """The reason of the first safety/state in `mode` stamped after after_s, if any."""
        with self.lock:
            return next((r for t, m, r in self.safety if t > after_s and m == mode), None)

    def worst(self, after_s: float) -> tuple[float, float]:
        """(lowest pelvis height, largest tilt) since after_s."""
        with self.lock:
            window = [(z, tilt) for t, z, tilt in self.poses if t >= after_s]
        if not window:
            return math.inf, 0.0
        return min(z for z, _ in window), max(tilt for _, tilt in window)

    def first_reason_not_active(self, after_s: float) -> str:
        with self.lock:
            return next((r for t, m, r in self.safety if t >= after_s and m != SafetyState.ACTIVE), "")

    def modes_since(self, after_s: float) -> list[int]:
        with self.lock:
            modes = [m for t, m, _ in self.safety if t >= after_s]
        return [m for i, m in enumerate(modes) if i == 0 or modes[i - 1] != m]  # transitions only


def deployment_processes(deployment: LaunchedDeployment) -> dict[str, psutil.Process]:
    """The deployment's processes by their name in the deployment file (forma_process children only)."""
    found = {}
    for p in deployment.process_tree():
        try:
            if "forma_process" in " ".join(p.cmdline()) and alive(p):
                found[process_name(p)] = p
        except psutil.Error:
            continue
    return found


def wait_robot_time(truth: Truth, seconds: float, wall_limit_s: float) -> None:
    """Let `seconds` of robot time pass (a loaded machine slows sim time: judged in robot time)."""
    start = truth.now()
    deadline = time.monotonic() + wall_limit_s
    while truth.now() < start + seconds and time.monotonic() < deadline:
        time.sleep(0.02)


def inject(
    deployment: LaunchedDeployment,
    truth: Truth,
    name: str,
    fault: str,
    posture: str,
    stall_s: float = 3.0,
    recover_within_s: float = 90.0,
) -> Outcome:
    """Send the fault to process `name`, watch until the robot is ACTIVE again (or the deployment
    stopped, for the sim), and report what happened. stall_s: how long a SIGSTOP lasts, in wall
    time: longer than the sim's command_pacing_s (1 s), for which the sim slows its clock while a
    commander lags, as it does for a busy machine."""
    out = Outcome(name, fault, posture)
    before = deployment_processes(deployment)
    victim = before[name]
    out.hold_group, budget = EXPECTED_HOLD.get(name, ("", 0.0))
    out.hold_budget_ms = budget * 1000.0 if out.hold_group else None
    sim = before.get("sim") if out.hold_group else None  # stopped around the signal: its robot time exact
    if sim is None:
        if not truth.wait_caught_up():
            out.problems.append("the probe never caught up with /clock: kill_to_hold is a loose upper bound")
        t_newest = truth.now()  # the newest robot time the probe has read (<= the true one)
        t_signal = truth.robot_time_at(time.monotonic())  # + the wall time since the freshest /clock (< 20 ms)
    else:
        os.kill(sim.pid, signal.SIGSTOP)
    try:
        if sim is not None:
            if not truth.wait_quiet():
                out.problems.append("/clock went on with the sim stopped: the signal's robot time is a guess")
            t_newest = t_signal = truth.now()  # (the sim may have stepped one period past it)
        if fault == "kill":
            os.kill(victim.pid, signal.SIGKILL)
        else:
            os.kill(victim.pid, signal.SIGSTOP)
    finally:
        if sim is not None:
            os.kill(sim.pid, signal.SIGCONT)
    if fault != "kill":
        time.sleep(stall_s)
        os.kill(victim.pid, signal.SIGCONT)
    if name == "sim" and fault == "kill":
        _watch_deployment_end(deployment, out)
        return out
    # the HOLD (robot time): the plant runs on, the hardware node holds on its own. Judged once
    # hardware/state itself has come that far: /clock (best effort) can reach the probe well ahead
    # of it under load (judged by /clock, a HOLD on its way was reported as none)
    window_s = max(budget * 3, 0.5)
    wait_robot_time(truth, window_s, 30.0)
    deadline = time.monotonic() + 30.0
    while truth.hardware_now() < t_signal + window_s and time.monotonic() < deadline:
        time.sleep(0.02)
    held_at = None
    if out.hold_group:
        held_at = truth.first_hold(out.hold_group, t_signal)
        out.hold_ms = None if held_at is None else (held_at - t_signal) * 1000.0
        out.hold_ms_upper = None if held_at is None else (held_at - t_newest) * 1000.0
        ramp_at = truth.first_mode(SafetyState.STANDING_UP, t_signal) if name == "safety" else None
        if out.hold_ms is None and ramp_at is not None and (ramp_at - t_signal) <= budget:
            # the supervisor came back before the body's watchdog ran out: its start ramp took the
            # body over from the WBC it stopped (commanded throughout, from the measured pose)
            out.takeover_ms = (ramp_at - t_signal) * 1000.0
        elif out.hold_ms is None:
            out.problems.append(f"no {out.hold_group} HOLD within {window_s:.2f} s of robot time")
        elif out.hold_ms > out.hold_budget_ms:
            out.problems.append(f"{out.hold_group} HOLD after {out.hold_ms:.0f} ms > {out.hold_budget_ms:.0f} ms")
    # back: the process respawned (killed), the robot ACTIVE again and still ACTIVE 2 s of robot
    # time later (a recovery that handed over to a controller still starting holds again at once)
    deadline = time.monotonic() + recover_within_s
    while time.monotonic() < deadline:
        now_procs = deployment_processes(deployment)
        back = name in now_procs and now_procs[name].pid != victim.pid if fault == "kill" else alive(victim)
        if back and truth.mode(since_s=t_signal + 1.0) == SafetyState.ACTIVE:
            t_active = truth.now()
            wait_robot_time(truth, 2.0, 30.0)
            if truth.modes_since(t_active) == [SafetyState.ACTIVE]:
                break
        if deployment.popen.poll() is not None:
            out.deployment_stopped = True
            out.problems.append("the deployment stopped")
            break
        time.sleep(0.1)
    if fault == "kill":
        procs = deployment_processes(deployment)
        out.respawned = name in procs and procs[name].pid != victim.pid
        if not out.respawned:
            out.problems.append("not respawned")
    modes = truth.modes_since(t_signal)
    out.modes_after = [SafetyState_name(m) for m in modes]
    out.active_again = truth.mode(since_s=t_signal + 1.0) == SafetyState.ACTIVE
    if not out.active_again:
        out.problems.append(f"not ACTIVE again ({out.modes_after})")
    if any(m != SafetyState.ACTIVE for m in modes):
        left = next(i for i, m in enumerate(modes) if m != SafetyState.ACTIVE)
        later = modes[left:]
        if SafetyState.ACTIVE in later:
            back_at = later.index(SafetyState.ACTIVE)
            out.via_ramp = SafetyState.STANDING_UP in later[:back_at]
            if not out.via_ramp:
                out.problems.append(f"ACTIVE again without the start ramp ({out.modes_after})")
    elif held_at is not None:
        # held, yet only ACTIVE seen since: a respawned supervisor the probe discovered late (under
        # load), so it read only its latched newest state. The core reaches ACTIVE only from a
        # finished stand-up ramp, and says so in the reason.
        reason = truth.first_reason(SafetyState.ACTIVE, held_at)
        out.via_ramp = reason is not None and reason.startswith("stand-up ramp finished")
        if not out.via_ramp:
            out.problems.append(f"ACTIVE again after the HOLD without the start ramp ({reason!r})")
    if not out.hold_group and any(m != SafetyState.ACTIVE for m in modes):  # it commands nothing
        out.problems.append(f"left ACTIVE: {truth.first_reason_not_active(t_signal)}")
    out.min_height_m, out.max_tilt_deg = truth.worst(t_signal)
    if out.fell:
        out.problems.append(f"fell: pelvis {out.min_height_m:.3f} m, tilt {out.max_tilt_deg:.1f} deg")
    return out


def _watch_deployment_end(deployment: LaunchedDeployment, out: Outcome) -> None:
    """The plant is gone: the launcher must say so and stop the rest (the sim is required)."""
    children = deployment.process_tree()
    try:
        code = deployment.popen.wait(timeout=60.0)
        out.deployment_stopped = True
    except Exception:  # noqa: BLE001 (reported, and the caller's stop() cleans up)
        code = None
        out.problems.append("the deployment did not stop within 60 s after its sim died")
    if code is not None and code == 0:
        out.problems.append("the deployment exited 0 after its sim died")
    if "required process sim exited" not in deployment.output:
        time.sleep(1.0)  # the reader thread's last lines
    if "required process sim exited" not in deployment.output:
        out.problems.append("the launcher did not report the sim's death")
    time.sleep(1.0)
    out.leftovers = [p.pid for p in children if alive(p)]
    if out.leftovers:
        out.problems.append(f"orphans left: {out.leftovers}")


def SafetyState_name(mode: int) -> str:  # noqa: N802 (reads as the message's constant names)
    return {0: "DAMPING", 1: "STANDING_UP", 2: "ACTIVE", 3: "HOLD", 4: "ESTOP", 5: "FAULT"}.get(mode, str(mode))


class Reach:
    """The right palm sent to a target 15 cm ahead and 10 cm up of where it is (wbc/targets/right_hand,
    in base_link): the arm is moving when the fault arrives. reset() sends the palm back."""

    def __init__(self, probe: RosProbe) -> None:
        from std_msgs.msg import String

        from forma_perception.robot_frames import RobotFrames

        self.probe = probe
        description = probe.collect(String, "robot_description", latched=True, keep=1)
        probe.wait_for(lambda: bool(description), 60, "robot_description")
        self.frames = RobotFrames(description[0].data)
        self.publisher = probe.matched_publisher(PoseStamped, "wbc/targets/right_hand")
        self.home = None

    def palm(self):
        js = self.probe.latest("joint_states")
        self.frames.update(js.name, js.position)
        return self.frames.transform("base_link", "right_hand")

    def send(self, offset: tuple[float, float, float], stamp_s_: float) -> None:
        import numpy as np
        import pinocchio as pin
        from geometry_msgs.msg import Quaternion

        from forma_common.messages import to_time_msg

        if self.home is None:
            self.home = self.palm()
        target = PoseStamped()
        target.header.frame_id, target.header.stamp = "base_link", to_time_msg(stamp_s_)
        p = self.home[:3, 3] + np.asarray(offset)
        target.pose.position.x, target.pose.position.y, target.pose.position.z = (float(v) for v in p)
        x, y, z, w = pin.Quaternion(self.home[:3, :3]).coeffs()
        target.pose.orientation = Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))
        self.probe.publish_delivered(self.publisher, target)
