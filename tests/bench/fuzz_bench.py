"""Fuzzing the command topics of the shipped `sim` deployment (issue 21, deliverable 2): 10 000
messages per command topic, generated from the topic's type (tests/support/fuzz.py), sent over DDS
while the robot stands on whole-body control; the command topics are the ones of the inventory the
running graph gives (tests/support/fuzz_graph.py) that command the robot: hardware/joint_commands,
wbc/targets/*, cmd_vel, hands/*/command, hardware/hold, safety/estop (restricted, EXCLUSIONS),
the face's and the dialogue's inputs.

  fuzz_msgs_total              messages sent
  fuzz_crashes                 processes of the deployment that died (goal 0)
  fuzz_nonfinite_at_actuators  NaN/inf values in the commands the stack's own nodes sent to
                               hardware/joint_commands meanwhile (goal 0)

FORMA_FUZZ_PER_TOPIC=500 sends fewer (a quick check that it works).
"""

from __future__ import annotations

import os
import pathlib
import re
import tempfile
import time

from forma_interfaces.msg import SafetyState
from tests.support import fuzz
from tests.support.fuzz_graph import (
    ActuatorWatch,
    Fuzzer,
    alive,
    joint_names,
    process_name,
    recover,
    robot_clock,
    take_inventory,
)
from tests.support.ros import LaunchedDeployment, RosProbe, free_port

DOMAIN_ID = 62  # (61 is the ros2_control bench's)
PROBE = "fuzz_bench"
PER_TOPIC = 10_000
SEED = 21_100
COMMAND = re.compile(
    r"(^|/)cmd_vel$|/command$|joint_commands$|^wbc/targets/|^hardware/hold$|^safety/estop$"
    r"|^interaction/utterance$|^face/(expression|gaze_target|visemes)$"
)


def bench_fuzz() -> dict:
    from tests.bench.run_bench import figure

    per_topic = int(os.environ.get("FORMA_FUZZ_PER_TOPIC", PER_TOPIC))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-fuzz-bench-"))
    with (
        LaunchedDeployment("sim", DOMAIN_ID, tmp / "logs", [f"console.port={free_port()}"]) as deployment,
        RosProbe(DOMAIN_ID, name=PROBE) as probe,
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        now = robot_clock(probe)
        probe.wait_for(lambda: safety and safety[-1].mode == SafetyState.ACTIVE, 180, "the robot ACTIVE")
        probe.wait_for(lambda: "tasks: serving tasks/execute" in deployment.output, 180, "the tasks node")
        time.sleep(3.0)
        processes = [p for p in deployment.process_tree() if "forma_process" in " ".join(p.cmdline())]
        names = {p.pid: process_name(p) for p in processes}
        inventory = take_inventory(probe.node, {PROBE})
        commands = [t for t in inventory.topics if COMMAND.search(t.name)]
        watch = ActuatorWatch(probe)
        fuzzer = Fuzzer(probe, fuzz.FuzzContext(joint_names=joint_names(), now_s=now), watch, period_s=0.0)
        sent: dict[str, int] = {}
        incidents: list[str] = []
        t0 = time.monotonic()
        for k, entry in enumerate(commands):
            outcome = fuzzer.run(entry, per_topic, SEED + k)
            sent[entry.name] = outcome.sent
            if safety[-1].mode != SafetyState.ACTIVE:
                incidents.append(f"{entry.name}: {safety[-1].mode_name} ({safety[-1].reason})")
                recover(probe, safety)
        seconds = time.monotonic() - t0
        time.sleep(1.0)
        watch.close()
        dead = [names[p.pid] for p in processes if not alive(p)]
    total = sum(sent.values())
    per = ", ".join(f"{k} {v}" for k, v in sent.items())
    return {
        "fuzz_msgs_total": figure(
            total, "messages",
            note=f"{per_topic} per command topic of the running sim deployment's graph in {seconds:.0f} s: {per}; "
            f"incidents (recovered with safety/reset + sim/reset): {'; '.join(incidents) or 'none'}",
        ),
        "fuzz_crashes": figure(
            len(dead), "processes", note=f"processes of the sim deployment that died: {dead or 'none'}",
            lower_is_better=True, goal=0,
        ),
        "fuzz_nonfinite_at_actuators": figure(
            watch.non_finite_values, "values",
            note=f"NaN/inf in the {watch.messages} commands the stack's nodes sent to hardware/joint_commands "
            f"meanwhile (the fuzzer's own told apart by their bytes); first: {watch.examples[:2] or 'none'}",
            lower_is_better=True, goal=0,
        ),
    }
