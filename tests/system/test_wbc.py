"""Smoke trials of whole-body control in MuJoCo, lockstep (times are sim time): one of each of
the acceptance trials in tests/accept/trials_wbc.py — stand, a push the joint-PD hold does not
survive, a reach, infeasible targets refused with a reason, limits respected."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin
import pytest

from forma_control.wbc.lockstep import build_controller, sensors_from
from forma_control.wbc.reach import ReachabilityChecker, ReachProgress
from forma_hardware import JointCommand
from forma_hardware.stop_latch import StopState
from tests.accept.trials_wbc import infeasible_targets, limit_violations, sample_reachable_targets
from tests.support.scenarios import fallen, pd_stand, survives_push, wbc_stand

pytestmark = pytest.mark.system


def test_wbc_stands_with_the_centre_of_mass_over_mid_foot_and_within_limits():
    outputs: list = []
    sim, harness, controller = wbc_stand(outputs=outputs)
    harness.run(4.0)
    assert not fallen(sim) and harness.rejections == []
    assert sim.stop_states()["body"] == StopState.ACTIVE
    com_x = sim.data.subtree_com[sim.base_body][0]
    ankles_x = np.mean([sim.data.site_xpos[i][0] for i in sim.sole_sites.values()])
    # the joint-PD stand leaves the CoM 2.9 cm behind the ankles (3 cm from the heel)
    assert 0.02 < com_x - ankles_x < 0.07
    assert outputs and all(o.capture_point_margin_m > 0.03 for o in outputs[-100:])
    assert limit_violations(outputs, controller.m) == {"position": 0, "velocity": 0, "effort": 0}


def test_wbc_survives_a_front_push_that_topples_the_joint_pd_hold():
    # both in stand_balanced: the joint-PD hold survives about 14 N s from the front, the WBC about
    # 19.7 (make accept wbc_push_recovery)
    assert not survives_push("front", 17.0, watch_s=2.0, controller="pd")
    assert survives_push("front", 17.0, watch_s=2.0, controller="wbc")


def test_wbc_reaches_a_hand_target_and_refuses_infeasible_ones_with_reasons():
    sim, harness, controller = wbc_stand()
    harness.run(0.3)
    palm = controller.reference_pose("right_hand")
    torso = controller.reference_pose("torso")
    goal = pin.SE3(palm.rotation, palm.translation + torso.rotation @ np.array([0.12, 0.0, 0.08]))
    checker = ReachabilityChecker(controller.m)
    assert checker.check("right", goal, controller.q_ref, 0.02, math.radians(5)).reachable
    controller.set_hand_target("right", goal)
    progress = ReachProgress("right", goal, 0.02, math.radians(5), sim.time + 2.0)
    status = "running"
    while status == "running":
        harness.step()
        status, dist, ang = progress.update(controller.measured_pose("right_hand"), sim.time)
    assert status == "reached", f"{dist * 100:.1f} cm, {math.degrees(ang):.1f} deg after 2 s"
    reasons = {}
    for name, target in infeasible_targets(controller).items():
        verdict = checker.check("right", target, controller.q_ref, 0.02, math.radians(5))
        assert not verdict.reachable, name
        reasons[name] = verdict.reason
    assert "arm reach" in reasons["1.5 m away"]
    assert "behind the back" in reasons["behind the back"]
    assert "closest" in reasons["impossible orientation"]


def test_a_long_reach_to_the_workspace_boundary_arrives_without_overshoot():
    """The first seeded acceptance target: 72 cm from the palm, turned 95 deg, the scapula at its
    limits. The palm's error integral used to wind up over the approach and carry the palm past
    the target and back (2.0 s)."""
    sim, harness, controller = wbc_stand()
    harness.run(0.5)
    side, goal, _ = next(iter(sample_reachable_targets(controller, np.random.default_rng(3), 24)))
    controller.set_hand_target(side, goal)
    progress = ReachProgress(side, goal, 0.02, math.radians(5), sim.time + 2.0)
    t0, status, closest = sim.time, "running", np.inf
    while status == "running":
        harness.step()
        status, dist, _ = progress.update(controller.measured_pose(f"{side}_hand"), sim.time)
        closest = min(closest, dist)
        assert dist < closest + 0.02, f"the palm came {closest * 100:.1f} cm close, then went back to {dist * 100:.1f}"
    assert status == "reached" and sim.time - t0 < 1.6, f"{status} after {sim.time - t0:.2f} s"


def test_wbc_keeps_the_arm_out_of_the_torso_when_a_target_lies_inside_it():
    """A policy streams a palm target inside the chest: the controller's self-collision
    constraints stop the arm at the safety distance (physics has self-collision off, so only the
    controller prevents it); the reach check says why the target is refused."""
    from forma_control.wbc.collision import SelfCollision, default_pairs

    sim, harness, controller = wbc_stand()
    harness.run(0.3)
    torso = controller.reference_pose("torso")
    palm = controller.reference_pose("right_hand")
    inside = pin.SE3(palm.rotation, torso.translation + torso.rotation @ np.array([0.02, -0.02, -0.05]))
    verdict = ReachabilityChecker(controller.m).check("right", inside, controller.q_ref, 0.02, math.radians(5))
    assert not verdict.reachable and "inside the robot" in verdict.reason
    controller.set_hand_target("right", inside)
    measured = SelfCollision(
        controller.m.model, controller.m.collision_geometry.copy(), default_pairs(), controller.collision.settings
    )
    data = controller.m.model.createData()
    reference_gap, measured_gap = [], []

    def observe(s):
        reference_gap.append(controller.closest_pair[0])
        pin.computeJointJacobians(controller.m.model, data, controller.last_measured_q)
        measured.ticks = 0  # all pairs, every time
        measured_gap.append(measured.rows(data, controller.last_measured_q)[2])

    harness.run(2.0, observe)
    assert not fallen(sim)
    moved = np.linalg.norm(controller.measured_pose("right_hand").translation - palm.translation)
    assert moved > 0.1  # the arm did go toward the target
    assert min(reference_gap) > 0.015  # safety distance 2 cm, held to within 5 mm
    assert min(measured_gap) > 0.0  # and the real arm never entered the body


def test_the_handover_is_bumpless_the_torque_continues_from_the_measured_one():
    """From the joint-PD hold (whose torques come from the PD's sag under the targets) the WBC's
    first command carries the measured torques, fading to its own feed-forward over handover_s."""
    outputs: list = []
    sim, harness, controller = wbc_stand(outputs=outputs)
    body = [sim.robot.joint_names.index(n) for n in controller.m.joint_names]
    measured = sim.joint_efforts()[body]
    harness.step()
    first = outputs[0].effort
    assert np.max(np.abs(first - np.clip(measured, -controller.m.effort_limit, controller.m.effort_limit))) < 1e-6
    harness.run(controller.s.handover_s + 0.01)
    assert not controller.handing_over  # faded out: the WBC's own feed-forward from here
    assert not fallen(sim)


def test_the_handover_ends_on_hardware_without_torque_sensing():
    """A bus whose motors report no torque (joint_states without efforts): nothing to fade, yet the
    tasks still ease in over handover_s and the handover ends (it stayed open forever before)."""
    sim, harness = pd_stand()
    harness.run(1.5)
    controller, body = build_controller(sim.robot)

    def control(sim) -> JointCommand:
        out = controller.tick(dataclasses.replace(sensors_from(sim, body), joint_efforts=None))
        return JointCommand(out.joint_names, out.position, out.velocity, out.effort, stamp_s=sim.time)

    harness.remove_controller("stand")
    harness.add_controller("wbc", 500.0, control)
    harness.step()
    assert controller.handing_over
    harness.run(controller.s.handover_s + 0.01)
    assert not controller.handing_over
    harness.run(1.0)
    assert not fallen(sim)


def test_a_torso_target_lowers_and_leans_the_body_and_release_stands_it_up_again():
    """wbc/targets/torso as the tasks send it (pelvis 14 cm down, torso pitched 0.47 rad): the body
    gets there at the torso speed limits without falling, the free hands ride with the torso, and
    releasing it (None) brings the robot back to standing."""
    sim, harness, controller = wbc_stand()
    harness.run(0.5)
    height0 = controller.pelvis_height - controller.s.crouch_m
    torso0 = controller.measured_pose("torso")
    hand_in_torso = torso0.actInv(controller.measured_pose("left_hand"))
    controller.set_torso_goal(pin.utils.rpyToMatrix(0.0, 0.47, 0.0) @ controller.torso_rotation, height0 - 0.14)
    harness.run(6.0)
    base = controller.measured_pose("base_link")
    torso = controller.measured_pose("torso")
    assert height0 - base.translation[2] == pytest.approx(0.14, abs=0.015) and not fallen(sim)
    pitch = pin.rpy.matrixToRpy(torso.rotation)[1] - pin.rpy.matrixToRpy(torso0.rotation)[1]
    assert pitch == pytest.approx(0.47, abs=0.06)
    riding = torso.actInv(controller.measured_pose("left_hand"))
    assert np.linalg.norm(riding.translation - hand_in_torso.translation) < 0.03  # the free hand came along
    controller.set_torso_goal(None)
    harness.run(6.0)
    assert controller.torso_goal is None and not fallen(sim)
    assert controller.measured_pose("base_link").translation[2] == pytest.approx(height0, abs=0.015)
