"""Smoke trials of the safety supervisor in MuJoCo, lockstep (sim time): an e-stop damps the body
within 2 control periods; a push that topples the PD-held robot is detected as a fall and ends in
DAMP; standing still is no fall. The statistical versions are in tests/accept/trials_safety.py."""

from __future__ import annotations

import pytest

from forma_control.safety.supervisor import Mode
from tests.accept.trials_safety import _push_run, body_damped, estop_latency_periods, supervised_stand

pytestmark = pytest.mark.system


def test_estop_damps_the_body_within_two_control_periods():
    sim, sup, harness = supervised_stand()
    harness.run(1.5)
    assert sup.mode == Mode.ACTIVE, sup.core.reason
    assert not body_damped(sim)
    assert estop_latency_periods(sim, sup, harness) <= 2
    assert sup.mode == Mode.ESTOP and sim.contract.estop_engaged


def test_a_toppling_push_is_a_fall_that_ends_in_damp_and_standing_is_not():
    fell, t_detect, t_damp, verdict, sup = _push_run("front", 60.0, detect=True, watch_s=1.0)
    assert verdict is not None and t_detect is not None and t_detect < 0.2, (t_detect, verdict)
    assert t_damp is not None and t_damp - t_detect <= 0.004
    assert sup.mode == Mode.FAULT and sup.core.reason.startswith("fall detected: ")
    sim, sup, harness = supervised_stand()
    harness.run(3.0)
    assert sup.mode == Mode.ACTIVE and not sup.verdicts
