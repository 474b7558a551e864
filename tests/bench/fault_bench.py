"""Fault injection on the shipped `sim` deployment (issue 21, deliverable 3): `kill -9` and SIGSTOP
(1 s, then SIGCONT) of each of its processes in turn, while the robot stands and while it reaches
(a right-hand target 15 cm ahead, sent 0.3 s of robot time before the signal), watched by a separate
client (tests/support/faults.py: simulator truth, hardware/state, safety/state). The sim itself is
killed last (its death ends the deployment: the launcher must stop everything, no orphans).

  kill_to_hold_ms_max   the longest signal -> HOLD of the commanded group, in robot time, over every
                        fault of a commander (control, hands, safety); goal: the longest budget
                        (EXPECTED_HOLD: the watchdog, plus the supervisor's silence timeout, plus
                        0.1 s for the measurement, see tests/support/faults.py)
  fault_falls           falls by simulator truth over every fault (goal 0)
  fault_problems        faults that did not end as README "Fault injection" says (goal 0)

Writes every outcome to build/faults.json.

python -m tests.bench.fault_bench [process ...]     (default: every process; FORMA_FAULTS=kill
restricts the faults, FORMA_POSTURES=standing the postures)
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

from forma_interfaces.msg import SafetyState
from tests.support.faults import EXPECTED_HOLD, Reach, Truth, deployment_processes, inject, wait_robot_time
from tests.support.ros import LaunchedDeployment, RosProbe, free_port

DOMAIN_ID = 63
PROCESSES = ("control", "hands", "safety", "perception", "face", "tasks", "vla", "teleop", "console")
OUT = pathlib.Path("build/faults.json")
REPO = pathlib.Path(__file__).resolve().parents[2]
DEPLOYMENT = REPO / "config" / "deployments" / "sim.yaml"  # this checkout's file (its respawn marks)


def run_faults(processes: tuple[str, ...], faults: tuple[str, ...], postures: tuple[str, ...],
               kill_sim: bool) -> list:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-fault-bench-"))
    outcomes = []
    with (
        LaunchedDeployment(str(DEPLOYMENT), DOMAIN_ID, tmp / "logs", [f"console.port={free_port()}"]) as deployment,
        RosProbe(DOMAIN_ID, name="fault_bench") as probe,
        RosProbe(DOMAIN_ID, name="fault_truth") as watcher,
    ):
        from sensor_msgs.msg import JointState

        # the truth on a probe of its own: the reach's joint_states (82 joints at 125 Hz, read in
        # Python) on the same executor delayed its robot clock by up to 0.4 s on the loaded machine
        truth = Truth(watcher)
        probe.collect(JointState, "joint_states", keep=1)
        probe.wait_for(lambda: truth.mode() == SafetyState.ACTIVE, 240, "the robot ACTIVE")
        probe.wait_for(lambda: "tasks: serving tasks/execute" in deployment.output, 240, "the tasks node")
        time.sleep(3.0)
        reach = Reach(probe)
        for name in processes:
            for posture in postures:
                for fault in faults:
                    ready(probe, truth, deployment, name)
                    if posture == "reaching":
                        reach.send((0.15, 0.0, 0.10), truth.now())
                        wait_robot_time(truth, 0.3, 10.0)
                    out = inject(deployment, truth, name, fault, posture)
                    print(f"[faults] {out.summary()}", flush=True)
                    outcomes.append(out)
                    if posture == "reaching":
                        reach.send((0.0, 0.0, 0.0), truth.now())
                    if out.deployment_stopped:
                        return outcomes
        if kill_sim:
            ready(probe, truth, deployment, "sim")
            out = inject(deployment, truth, "sim", "kill", "standing")
            print(f"[faults] {out.summary()}", flush=True)
            outcomes.append(out)
    return outcomes


def ready(probe: RosProbe, truth: Truth, deployment: LaunchedDeployment, name: str) -> None:
    """ACTIVE, the process up, and 1 s of robot time standing since (the previous fault's end)."""
    probe.wait_for(lambda: name in deployment_processes(deployment), 120, f"{name} running")
    wait_robot_time(truth, 1.0, 20.0)
    since = truth.now() - 0.5  # a fresh safety/state (the supervisor's may be a dead one's)
    probe.wait_for(lambda: truth.mode(since_s=since) == SafetyState.ACTIVE, 120, "the robot ACTIVE")


def bench_faults() -> dict:

    faults = tuple(os.environ.get("FORMA_FAULTS", "kill,stop").split(","))
    postures = tuple(os.environ.get("FORMA_POSTURES", "standing,reaching").split(","))
    outcomes = run_faults(PROCESSES, faults, postures, kill_sim=True)
    return figures(outcomes)


def figures(outcomes: list) -> dict:
    from tests.bench.run_bench import figure

    holds = [o.hold_ms for o in outcomes if o.hold_ms is not None]
    uppers = [o.hold_ms_upper for o in outcomes if o.hold_ms_upper is not None]
    budget = max(b for _, b in EXPECTED_HOLD.values()) * 1000.0
    falls = sum(o.fell for o in outcomes)
    problems = [o for o in outcomes if o.problems]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps([{**dataclasses.asdict(o), "fell": o.fell} for o in outcomes], indent=2, default=str))
    n = len(outcomes)
    return {
        "kill_to_hold_ms_max": figure(
            max(holds) if holds else float("nan"), "ms", goal=round(budget), lower_is_better=True,
            note=f"kill -9 / SIGSTOP of control, hands, safety, standing and reaching: {len(holds)} HOLDs, robot time "
            f"(at most {max(uppers, default=float('nan')):.0f} ms from the newest stamp the probe had read)",
        ),
        "fault_falls": figure(falls, f"of {n}", goal=0, lower_is_better=True,
                              note="falls by simulator truth (pelvis < 0.55 m or tilt > 30 deg) over every fault"),
        "fault_problems": figure(len(problems), f"of {n}", goal=0, lower_is_better=True,
                                 note="; ".join(f"{o.fault} {o.process} {o.posture}: {o.problems[0]}"
                                                for o in problems)[:300] or "every fault ended as designed"),
    }


def main(argv: list[str]) -> int:
    processes = tuple(argv) or PROCESSES
    faults = tuple(os.environ.get("FORMA_FAULTS", "kill,stop").split(","))
    postures = tuple(os.environ.get("FORMA_POSTURES", "standing,reaching").split(","))
    outcomes = run_faults(tuple(p for p in processes if p != "sim"), faults, postures, kill_sim="sim" in processes
                          or not argv)
    result = figures(outcomes)
    for name, f in result.items():
        print(f"{name}: {f['value']} {f['unit']} (goal {f['goal']}): {f['note']}")
    return 0 if all(f["passed"] is not False for f in result.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
