"""Fault injection on the `sim` deployment over real DDS (issue 21, deliverable 3), kept short for
`make test`: while the robot stands on whole-body control, `kill -9` of the WBC's process, SIGSTOP
of it for 3 s (then SIGCONT), and `kill -9` of the safety supervisor's. Each must end with the body
held by the hardware within its watchdog time (robot time), the robot standing by simulator truth,
the killed process back (respawn), and the body commanded again only after the supervisor's start
ramp. `python -m tests.bench.fault_bench` walks every process, standing and reaching
(tests/support/faults.py says what each fault must end in)."""

from __future__ import annotations

import time

import pytest

from forma_interfaces.msg import SafetyState
from tests.support.faults import Truth, deployment_processes, inject, wait_robot_time
from tests.support.ros import LaunchedDeployment, RosProbe, free_port

# In `make test` since 2026-12-08 (issue 21). It was out of it as flaky: a kill of `control` "held"
# after 280-592 ms (budget 200), the signal's robot time guessed from a probe that lagged the robot
# by 0.4-1.3 s under load (now the sim is stopped around the signal: exact); at load 17 the
# supervisor's recovery handed the body four times to a WBC not ready yet, the fourth ended in a
# FAULT (it now waits for the WBC's fresh wbc/status). After the fixes 6 of 6 runs passed at load
# 4-18, two with busy loops beside them. Still beyond it: at load 50-70 with another deployment's
# real-time processes on the same cores, the respawned supervisor took 17 s (wall) to start, longer
# than the hardware's 10 s hold before it damps, and the robot fell (README "Fault injection").
pytestmark = pytest.mark.integration

REPO_DEPLOYMENT = "config/deployments/sim.yaml"  # this checkout's file: its respawn marks
WAIT_S = 240.0


def test_killing_or_stalling_a_commander_holds_the_robot_and_it_comes_back_through_the_ramp(tmp_path, domain_id):
    import pathlib

    deployment_file = pathlib.Path(__file__).resolve().parents[2] / REPO_DEPLOYMENT
    with (
        LaunchedDeployment(
            str(deployment_file), domain_id, tmp_path / "logs", [f"console.port={free_port()}"]
        ) as deployment,
        RosProbe(domain_id, name="fault_probe") as probe,
    ):
        truth = Truth(probe)
        probe.wait_for(lambda: truth.mode() == SafetyState.ACTIVE, WAIT_S, "the robot ACTIVE")
        outcomes = []
        for name, fault in (("control", "kill"), ("control", "stop"), ("safety", "kill")):
            probe.wait_for(lambda n=name: n in deployment_processes(deployment), 60, f"{name} running")
            wait_robot_time(truth, 1.0, 30.0)
            since = truth.now() - 0.5
            probe.wait_for(lambda s=since: truth.mode(since_s=s) == SafetyState.ACTIVE, 120, "the robot ACTIVE")
            outcome = inject(deployment, truth, name, fault, "standing")
            print(outcome.summary())
            outcomes.append(outcome)
        time.sleep(0.5)
        exits = [line for line in deployment.output.splitlines() if "required process" in line]

    assert not exits, exits
    for o in outcomes:
        held = o.hold_ms is not None and o.hold_ms <= o.hold_budget_ms
        assert held or o.takeover_ms is not None, o.summary()  # (takeover: the supervisor back within the budget)
        assert not o.fell, o.summary()
        assert o.active_again and o.via_ramp, o.summary()
        assert o.respawned in (True, None), o.summary()
        assert not o.problems, o.summary()
