"""Smoke trial of the hands in MuJoCo (lockstep, sim time): on the hand-on-a-stand rig the power
grasp from the side closes on the box until contact and force and reports holding; with nothing
there the same grasp reports failure (the fingers close fully). The side mount holds the palm
facing forward, thumb up; the cup is lifted 10 cm and held. The full statistics (10 randomized
trials per object, 5 s hold) are the hand_grasp acceptance trial."""

from __future__ import annotations

import numpy as np
import pytest

from forma_hands.grasp import ErrorCode
from forma_hands.lockstep import run_grasp
from forma_sim.errors import SimError
from forma_sim.simulation import build_hand_simulation

pytestmark = pytest.mark.system


def test_grasp_of_the_box_reaches_holding():
    r = run_grasp("box", seed=0, hold_s=0.5)
    assert r.outcome_success and r.outcome_holding, r.message
    assert r.code == ErrorCode.OK and "holding" in r.message
    assert 0.5 < r.cycle_s < 6.0  # pre-shape and close take sim time; instant would be a toy
    assert not r.warnings


def test_no_object_is_a_failure_never_success():
    r = run_grasp("box", seed=0, present=False, hold_s=0.5)
    assert not r.outcome_success and not r.outcome_holding
    assert r.code in (ErrorCode.NO_CONTACT, ErrorCode.OBJECT_LOST, ErrorCode.TIMEOUT), r.message


def test_side_mount_faces_the_palm_forward_with_the_thumb_up():
    sim = build_hand_simulation("right", orientation="palm_side")
    sim.set_stand(0.0, 0.0, 1.0, jump=True)
    m, d = sim.model, sim.data
    palm_out = d.xmat[m.body("right_palm").id].reshape(3, 3)[:, 1]  # the right palm faces its link's +y
    assert np.allclose(palm_out, (1.0, 0.0, 0.0), atol=1e-6)
    thumb = d.site_xpos[m.site("right_thumb_tip").id]
    little = d.site_xpos[m.site("right_little_tip").id]
    assert thumb[2] - little[2] > 0.05  # thumb up, little finger down
    with pytest.raises(SimError, match="valid: palm_down, palm_side"):
        build_hand_simulation("right", orientation="palm_up")


def test_side_grasp_of_the_cup_lifts_it_10cm_and_holds_it():
    r = run_grasp("cup", seed=7000, hold_s=1.0)
    assert r.outcome_holding, r.message
    assert r.held and r.lifted_m > 0.085 and not r.lost_event, (r.lifted_m, r.lost_event)
    assert not r.warnings
