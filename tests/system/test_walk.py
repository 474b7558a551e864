"""Walking on the full 82-DoF model in MuJoCo (lockstep harness): the whole-body controller walks
forward, sideways and turns in place on a velocity command, stops within two steps on a zero one,
and walks to a pose (the wbc/walk_to logic), judged by simulator truth (the controller never reads
it). The trials with pushes and randomised floors are `make accept` (tests/accept/trials_walk.py);
this is the CI smoke."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forma_control.walk.gait import WalkSettings
from tests.support.walking import FORMS, walk, walk_to

pytestmark = pytest.mark.system


def test_walks_forward_at_top_speed_swinging_its_arms_and_stops_square_within_two_steps():
    top = WalkSettings().max_forward_m_s
    out = walk([top, 0.0, 0.0], 4.0)
    assert not out.fell and out.standing, "standing again after the stop"
    assert 0.7 * 4.0 * top < out.moved_xy[0] < 1.3 * 4.0 * top, out.moved_xy
    assert abs(out.moved_xy[1]) < 0.1 and abs(out.turned_rad) < math.radians(10)
    # each hand swings against the foot of its own side (simulator truth)
    assert out.arm_leg_correlation["left"] <= -0.5 and out.arm_leg_correlation["right"] <= -0.5, out.arm_leg_correlation


def test_sidesteps_and_turns_in_place():
    side = walk([0.0, 0.15, 0.0], 4.0)
    assert not side.fell and side.moved_xy[1] > 0.35 and abs(side.moved_xy[0]) < 0.1
    turn = walk([0.0, 0.0, 0.5], 5.0)  # 2.5 rad commanded (the wrap at 180 deg would hide more)
    assert not turn.fell and turn.turned_rad > math.radians(120) and np.linalg.norm(turn.moved_xy) < 0.15


def test_walk_to_a_pose_arrives_within_10_cm_and_10_degrees_by_simulator_truth():
    out = walk_to([1.0, 0.5, math.pi / 2])
    assert out.state == "arrived" and not out.fell
    assert np.linalg.norm(out.moved_xy - [1.0, 0.5]) < 0.1 + 0.05  # the tolerance, plus odometry drift
    assert abs(math.remainder(out.turned_rad - math.pi / 2, 2 * math.pi)) < math.radians(10 + 5)


def test_the_female_form_walks_and_stops_on_the_same_code_and_parameters():
    """1.65 m and 56 kg (urdf/body_forms.yaml `female`): nothing tuned per form."""
    top = WalkSettings().max_forward_m_s
    out = walk([top, 0.0, 0.0], 4.0, form=FORMS["female"])
    assert not out.fell and out.standing, "standing again after the stop"
    assert 0.7 * 4.0 * top < out.moved_xy[0] < 1.3 * 4.0 * top, out.moved_xy
    assert max(out.arm_leg_correlation.values()) <= -0.5, out.arm_leg_correlation
