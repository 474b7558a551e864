"""The default deployment as a user runs it: `sim` as shipped (`make run`), with a headless Chromium
(software WebGL, nice 19) showing the console, measured while the robot stands at 1.0x real time.

  stack_cpu_cores           CPU of the deployment's processes (the browser not counted), and
  stack_cpu_<process>       each process's share: the CPU budget of the README (measured first,
                            with none of the bench's own probes running)
  wbc_loop_answered_share   share of the hardware's control periods (hardware/robot_state) answered by a
                            whole-body command with that period's stamp
  wbc_loop_jitter_p99_us    |interval - period in wall time| of those commands as another process receives
                            them, p99; baseline: the same figure for the robot_state they answer
  sim_rtf_deployed          sim time over wall time during the window
  sim_reset_to_active_s     a fallen robot (pushed over): the console's Reset simulation (safety/reset,
                            sim/reset) to the WBC active again, in sim time
  machine_reference_ms      a fixed single-threaded Python + numpy workload (best of 5), timed just
                            before: this VM's speed varies from day to day, and the stack's CPU with it
"""

from __future__ import annotations

import pathlib
import tempfile
import threading
import time

import numpy as np
from geometry_msgs.msg import Wrench
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.scheduling import enter_realtime, leave_realtime
from forma_interfaces.msg import RobotState, SafetyState, WbcStatus
from forma_interfaces.srv import ApplyWrench
from tests.support.ros import LaunchedDeployment, RosProbe, free_port

DOMAIN_ID = 57
MEASURE_S = 20.0
MEASURE_PRIORITY = 60  # SCHED_FIFO above the deployment's loops (50)
# the real-time stack's goals (issue 16): the stack leaves 0.6 of the 2 cores to the browser,
# walking and the VLA; the WBC answers 95 % of the periods; its commands' jitter stays within one
# 4 ms control period
STACK_CPU_GOAL_CORES = 1.4
ANSWERED_SHARE_GOAL = 0.95
JITTER_GOAL_US = 4000.0


class _StampRecorder:
    """robot_state and the WBC's body commands: stamps and arrival times, read by a thread of its
    own from direct subscriptions (a probe reading 1000 messages a second through rclpy's executor
    would itself take a third of a core from the stack it measures)."""

    def __init__(self, node) -> None:
        self.state_in = DirectSubscription(node, RobotState, "hardware/robot_state", qos.STATE_STREAM)
        self.commands_in = DirectSubscription(node, JointState, "hardware/joint_commands", qos.COMMANDS)
        self.waiter = InputWaiter(node, [self.state_in, self.commands_in])
        self.states: list[tuple[int, int, float]] = []
        self.commands: list[tuple[int, int, float]] = []
        self.recording = False
        self.latest_stamp_s = 0.0  # the newest robot_state: the robot's clock [s]
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            self.waiter.wait(0.1)
            now = time.monotonic()
            for msg in self.state_in.take_all():
                self.latest_stamp_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
                if self.recording:
                    self.states.append((msg.header.stamp.sec, msg.header.stamp.nanosec, now))
            for msg in self.commands_in.take_all():
                if self.recording and len(msg.name) > 30:  # the body's 38 joints: the WBC (or the stand-up ramp)
                    self.commands.append((msg.header.stamp.sec, msg.header.stamp.nanosec, now))

    def close(self) -> None:
        self.running = False
        self.waiter.wake()
        self.thread.join(timeout=2.0)


def _jitter_p99_us(arrivals: list[float], period_s: float) -> float:
    dt = np.diff(np.sort(np.array(arrivals)))
    return float(np.percentile(np.abs(dt - period_s), 99) * 1e6)


def _control_period_s(states: list[tuple[int, int, float]]) -> float:
    """The hardware's control period as deployed: the median step of robot_state's stamps."""
    stamps = np.sort([sec + nanosec * 1e-9 for sec, nanosec, _ in states])
    return float(np.median(np.diff(stamps)))


def machine_reference_ms(repeats: int = 5) -> float:
    """Best-of-`repeats` time of a fixed workload shaped like the stack's (small linear algebra in
    a Python loop): two runs of the stack are comparable only beside it."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(44, 44))
    a = a @ a.T + 44 * np.eye(44)
    b = rng.normal(size=44)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = b
        for _ in range(400):
            x = np.linalg.solve(a, x + b)
            x = [v * 0.5 for v in x]
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def bench_stack() -> dict:
    from tests.bench.run_bench import figure
    from tests.support.browser import console_page

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-stack-bench-"))
    port = free_port()
    out: dict = {
        "machine_reference_ms": figure(
            machine_reference_ms(),
            "ms",
            note="a fixed Python + numpy workload, best of 5, before the stack starts: compare stack_cpu_cores "
            "of two runs beside it",
            lower_is_better=True,
        )
    }
    with (
        LaunchedDeployment("sim", DOMAIN_ID, tmp / "logs", [f"console.port={port}"]) as deployment,
        RosProbe(DOMAIN_ID, name="stack_bench") as probe,
        console_page(f"http://127.0.0.1:{port}/"),
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        status = probe.collect(WbcStatus, "wbc/status", keep=1)
        probe.wait_for(lambda: status and status[-1].active, 180, "the WBC active (the robot stood up)")
        time.sleep(5.0)  # the browser connected, the handover settled
        # the CPU first, with nothing of the bench's own running: the stamp recorder below takes
        # 1000 messages a second at real-time priority on both cores, which no user's setup does
        # (measured beside it, the stack read 0.05-0.1 core more: its loops found their caches cold)
        modes_before = len(safety)  # (falls and holds count in both windows)
        procs = {p: p.cmdline() for p in deployment.process_tree() if "forma_process" in " ".join(p.cmdline())}
        cpu0 = {p: sum(p.cpu_times()[:2]) for p in procs}
        wall0 = time.monotonic()
        time.sleep(MEASURE_S)
        wall1 = time.monotonic()
        per = {}
        for p, cmdline in procs.items():
            name = cmdline[cmdline.index("--process") + 1]
            per[name] = per.get(name, 0.0) + (sum(p.cpu_times()[:2]) - cpu0[p]) / (wall1 - wall0)
        # then the loop's timing, measured from above the stack it measures: starved of the CPU,
        # the recorder would see the stack's messages late and drop some (measured: answered
        # share 0.52 instead of 0.98)
        rt_problem = enter_realtime(MEASURE_PRIORITY, all_threads=True)
        recorder = _StampRecorder(probe.node)
        time.sleep(2.0)
        wall0, sim0 = time.monotonic(), recorder.latest_stamp_s
        recorder.recording = True
        time.sleep(MEASURE_S)
        recorder.recording = False
        leave_realtime(all_threads=True)
        wall1, sim1 = time.monotonic(), recorder.latest_stamp_s
        incidents = [f"{m.mode_name}: {m.reason}" for m in safety[modes_before:] if m.mode != SafetyState.ACTIVE]

        published = {(s, n) for s, n, _ in recorder.states}
        answered = {(s, n) for s, n, _ in recorder.commands} & published
        note = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
        window = f"{MEASURE_S:.0f} s standing, console open in headless Chromium (nice 19, not counted)"
        out["stack_cpu_cores"] = figure(
            sum(per.values()), "cores", note=f"sim deployment, {window}: {note}", lower_is_better=True,
            goal=STACK_CPU_GOAL_CORES,
        )
        for name, cores in per.items():
            out[f"stack_cpu_{name}"] = figure(
                cores, "cores", note=f"process {name!r} of the sim deployment", lower_is_better=True
            )
        out["wbc_loop_answered_share"] = figure(
            len(answered) / max(len(published), 1),
            "",
            note=f"{len(published)} control periods in {MEASURE_S:.0f} s; in {2 * MEASURE_S:.0f} s: "
            + ("; ".join(incidents) or "0 falls, 0 holds")
            + (f"; measured at normal priority ({rt_problem})" if rt_problem else ""),
            goal=ANSWERED_SHARE_GOAL,
        )
        period_s = _control_period_s(recorder.states)
        out["wbc_loop_jitter_p99_us"] = figure(
            _jitter_p99_us([t for _, _, t in recorder.commands], period_s),
            "us",
            _jitter_p99_us([t for _, _, t in recorder.states], period_s),
            f"|interval - {period_s * 1e3:.0f} ms (the control period)| of the WBC's commands at another process; "
            "baseline: the robot_state they answer",
            lower_is_better=True,
            goal=JITTER_GOAL_US,
        )
        out["sim_rtf_deployed"] = figure(
            (sim1 - sim0) / (wall1 - wall0), "x real time", note="1.0 is real time; no same-run baseline"
        )

        # a fall, then the console's way back: safety/reset, sim/reset, the supervisor stands it up
        push = ApplyWrench.Request(body="torso", wrench=Wrench(), duration_s=0.3)
        push.wrench.force.x = 600.0
        probe.call(ApplyWrench, "sim/apply_wrench", push)
        probe.wait_for(lambda: safety and safety[-1].mode == SafetyState.FAULT, 60, "the pushed robot's fall detected")
        time.sleep(3.0)  # lying on the floor
        probe.call(Trigger, "safety/reset", Trigger.Request())
        t_reset = recorder.latest_stamp_s
        reply = probe.call(Trigger, "sim/reset", Trigger.Request())
        if not reply.success:
            raise RuntimeError(f"sim/reset refused: {reply.message}")
        probe.wait_for(lambda: status and status[-1].active, 120, "the WBC active again after sim/reset")
        out["sim_reset_to_active_s"] = figure(
            recorder.latest_stamp_s - t_reset,
            "s",
            note="fallen robot: safety/reset + sim/reset -> stand-up -> WBC active (sim time)",
            lower_is_better=True,
        )
        recorder.close()
    return out
