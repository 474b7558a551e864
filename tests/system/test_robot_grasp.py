"""Smoke trial of the full robot's grasp in MuJoCo (lockstep, sim time): standing on whole-body
control, the robot lowers its body, grasps an object from the side with the right hand (the red
cup with the left), lifts the palm 10 cm and holds it, without falling, past a limit or a MuJoCo
warning; with the object gone it reports failure, and with the cup swatted out of the closing hand
too. One held-out seed per object (placed +-3 cm, +-30 deg yaw) and a 1 s hold; the statistics are
the robot_grasp acceptance trials."""

from __future__ import annotations

import pytest

from tests.accept.robot_grasp import run_robot_grasp

pytestmark = pytest.mark.system


@pytest.mark.parametrize("obj", ["orange_ball", "blue_cup"])
def test_the_robot_grasps_lifts_10cm_and_stays_standing(obj):
    r = run_robot_grasp(1000, obj, hold_s=1.0)
    assert r.outcome_holding, r.message
    assert r.held and r.lifted_m > 0.085, (r.lifted_m, r.message)
    assert r.stood and r.sole_drift_m < 0.002
    assert r.limit_violations == {"position": 0, "velocity": 0, "effort": 0}
    assert r.rejections == 0 and not r.warnings, (r.rejections, r.warnings)
    assert 0.5 < r.cycle_s < 6.0  # closing takes sim time


def test_the_left_hand_grasps_the_red_cup_with_the_plan_mirrored():
    r = run_robot_grasp(1000, "blue_cup", hold_s=1.0, side="left")  # the left hand's twin: red_cup
    assert r.held and r.lifted_m > 0.085, (r.lifted_m, r.message)
    assert r.stood and r.limit_violations == {"position": 0, "velocity": 0, "effort": 0} and not r.warnings


def test_with_the_ball_gone_the_grasp_reports_failure():
    r = run_robot_grasp(1000, "orange_ball", hold_s=1.0, present=False)
    assert not r.outcome_holding and not r.held, r.message
    assert "no object" in r.message and r.stood


def test_with_the_cup_knocked_out_of_the_closing_hand_the_grasp_reports_failure():
    r = run_robot_grasp(1000, "blue_cup", hold_s=1.0, knock=True)
    assert r.object_from_palm_m > 0.1, r.object_from_palm_m  # it really left the hand
    assert not r.outcome_holding and not r.held, r.message
    assert "lost" in r.message and r.stood


def test_the_hand_comes_in_beside_the_box_without_pushing_it():
    """The box plan keeps the open fingers 2.5 cm out of the palm coming in, then steps onto the box:
    straight in, they caught a turned box's corner and pushed it over the table (seed 1005: 6.6 cm)."""
    r = run_robot_grasp(1005, "green_box", hold_s=1.0, side="left")
    assert r.pushed_m < 0.01, f"the box was pushed {r.pushed_m * 100:.1f} cm before closing"
    assert r.held and r.lifted_m > 0.085, (r.lifted_m, r.message)
    assert r.stood and r.rejections == 0 and not r.warnings
