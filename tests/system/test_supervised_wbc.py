"""The safety supervisor and whole-body control together, as the `sim` deployment runs them,
in lockstep: the supervisor stands the robot up and hands over to the WBC, which takes over from
the measured pose; the fall detector stays quiet while the WBC balances through a push the
joint-PD hold would not survive, and catches one that topples the robot."""

from __future__ import annotations

import numpy as np
import pytest

from forma_control.fall_detection import FallLimits
from forma_control.supervisor import Mode, SupervisorConfig
from forma_control.supervisor_lockstep import LockstepSupervisor
from forma_control.wbc.lockstep import build_controller, wbc_controller
from forma_hardware.stop_latch import StopState
from forma_sim.lockstep import LockstepHarness
from forma_sim.simulation import build_simulation
from tests.accept.scenarios import PUSH_DIRECTIONS, fallen

pytestmark = pytest.mark.system


def supervised_wbc():
    sim = build_simulation(world="empty")
    controller, body = build_controller(sim.robot, pose="stand_balanced")  # as config/deployments/sim.yaml
    outputs: list = []
    sup = LockstepSupervisor(
        sim,
        SupervisorConfig(auto_stand=True),
        FallLimits(),
        pose="stand_balanced",
        groups=("body",),
        active_controller=wbc_controller(controller, body, outputs),
    )
    harness = LockstepHarness(sim)
    harness.add_controller("safety_supervisor", 500.0, sup)
    return sim, sup, harness, outputs


def push(sim, direction: str, impulse_ns: float) -> None:
    dx, dy = PUSH_DIRECTIONS[direction]
    force = impulse_ns / 0.2
    sim.apply_wrench("torso", (dx * force, dy * force, 0.0), (0.0, 0.0, 0.0), 0.2)


def test_supervisor_hands_over_to_the_wbc_and_no_fall_is_seen_through_a_12_ns_push():
    sim, sup, harness, outputs = supervised_wbc()
    modes = []
    harness.run(5.0, lambda s: modes.append(sup.mode))
    assert Mode.ACTIVE in modes and sup.mode == Mode.ACTIVE, [t.reason for t in sup.log]
    assert outputs, "the WBC commanded the body in ACTIVE"
    assert sim.stop_states()["body"] == StopState.ACTIVE  # no command gap at the handover
    com_x = sim.data.subtree_com[sim.base_body][0]
    ankles_x = np.mean([sim.data.site_xpos[i][0] for i in sim.sole_sites.values()])
    assert com_x - ankles_x > 0.03  # the WBC moved the CoM to mid-foot
    push(sim, "front", 12.0)  # the joint-PD hold falls from about 6 N s
    harness.run(3.0)
    assert not fallen(sim)
    assert sup.mode == Mode.ACTIVE and not sup.verdicts, [t.reason for t in sup.log[-3:]]


def test_a_push_that_topples_the_wbc_is_a_fall_and_ends_in_damping():
    sim, sup, harness, _ = supervised_wbc()
    harness.run(4.0)
    assert sup.mode == Mode.ACTIVE
    push(sim, "back", 60.0)
    harness.run(1.0)
    assert sup.mode == Mode.FAULT and "fall detected" in sup.log[-1].reason
    assert sim.stop_states()["body"] == StopState.DAMP
