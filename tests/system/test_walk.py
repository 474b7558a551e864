"""Walking on the full 82-DoF model in MuJoCo (lockstep harness): the whole-body controller walks
forward, sideways and turns in place on a velocity command, stops within two steps on a zero one,
walks to a pose (the wbc/walk_to logic), and carries a grasped cup 2 m, judged by simulator truth
(the controller never reads it). The trials with pushes and randomised floors are `make accept`
(tests/accept/trials_walk.py); this is the CI smoke."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest

from forma_control.walk.gait import WalkSettings
from tests.accept.cup_carry import walk_off
from tests.accept.robot_grasp import run_robot_grasp
from tests.support.scenarios import fallen
from tests.support.walking import FORMS, standing_robot, walk, walk_to

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


def test_the_cup_grasped_from_the_table_stays_in_the_hand_while_the_robot_walks_2_m_backward():
    """The robot_grasp scenario's cup (dev seed 1000), lifted, then carried: stand up, walk 2 m
    backward, stop (tests/accept/cup_carry.py; `make accept walk_carry` randomizes floor and pushes)."""
    run = run_robot_grasp(1000, "blue_cup", hold_s=1.0, then=walk_off(2.0, -0.2, friction=0.8))
    assert run.held, run.message
    after = run.after
    assert not after["fell"] and after["moved_m"] >= 2.0, after
    assert after["carried"], f"the cup left the hand: {after}"


def test_a_hand_target_set_while_walking_rides_with_the_body():
    """A palm target 10 cm above where the palm is, given 1.5 s into a 0.3 m/s walk (in odom, as the
    node converts every target): from then on it is carried in the walking frame, so 3 s and about
    0.9 m later the palm is still 10 cm above its place beside the pelvis (simulator truth). Left in
    odom, the target would stay 0.9 m behind the walking robot."""
    sim, harness, controller = standing_robot(1.0)
    palm = sim.model.site("right_hand").id

    def palm_in_pelvis() -> np.ndarray:
        position, (w, x, y, z) = sim.base_pose()
        return pin.Quaternion(w, x, y, z).toRotationMatrix().T @ (sim.data.site_xpos[palm] - position)

    controller.walk(np.array([0.3, 0.0, 0.0]))
    harness.run(1.5)
    before = palm_in_pelvis()
    target = controller.measured_pose("right_hand")
    controller.set_hand_target("right", pin.SE3(target.rotation, target.translation + np.array([0.0, 0.0, 0.10])))
    start_xy = sim.base_pose()[0][:2].copy()
    harness.run(3.0)
    walked = float(np.linalg.norm(sim.base_pose()[0][:2] - start_xy))
    after = palm_in_pelvis()
    controller.walk(np.zeros(3))
    harness.run(2.0)
    assert not fallen(sim) and walked > 0.6, walked
    offset = after - before
    moved = f"palm moved {np.round(offset, 3)} m in the pelvis frame"
    assert abs(offset[2] - 0.10) < 0.03 and abs(offset[0]) < 0.05, moved
