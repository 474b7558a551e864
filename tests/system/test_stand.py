"""Smoke trials of the foundation in MuJoCo, lockstep (times are sim time): the joint-PD stand
holds the robot up for 30 s; without commands the hardware holds, then damps, and the joint
efforts show it."""

from __future__ import annotations

import numpy as np
import pytest

from forma_control.stand.posture import stand_controller
from forma_description.poses import named_pose
from forma_hardware.stop_latch import StopState
from forma_sim.lockstep import LockstepHarness
from forma_sim.simulation import build_simulation

pytestmark = pytest.mark.system


def make_stand(world="tabletop"):
    sim = build_simulation(world=world)
    robot = sim.robot
    limits = robot.limits_arrays()
    harness = LockstepHarness(sim)
    harness.add_controller(
        "stand",
        100.0,
        stand_controller(robot.joint_names, named_pose("stand", robot), limits["lower"], limits["upper"]),
    )
    harness.activate()
    return sim, harness


def test_joint_pd_stand_holds_the_robot_for_30_s():
    sim, harness = make_stand()
    z0 = sim.base_pose()[0][2]
    heights = []
    harness.run(30.0, observer=lambda s: heights.append(s.base_pose()[0][2]))
    assert harness.rejections == []
    assert max(abs(z - z0) for z in heights) < 0.05
    assert sim.stop_states() == dict.fromkeys(("body", "left_hand", "right_hand"), StopState.ACTIVE)
    assert sim.warnings() == {}


def test_command_timeout_holds_then_damps_visibly_in_the_efforts():
    sim, harness = make_stand(world="empty")
    harness.run(2.0)
    harness.controllers.clear()  # the commander dies
    watchdog = sim.contract.latch.watchdogs["body"]
    harness.run(watchdog.timeout_s + 0.02)
    assert sim.stop_states()["body"] == StopState.HOLD
    # HOLD: stiff PD toward the pose at the moment of the hold, so the efforts still carry the robot.
    # joint_efforts are the torques applied during the last step, computed from the state before it.
    body = sim.contract.group_masks["body"]
    effort_limit = sim.robot.limits_arrays()["effort"]

    def efforts_and_law():
        q, qd = sim.joint_positions(), sim.joint_velocities()
        harness.step()
        sp = sim.contract.setpoints()
        law = np.clip(sp.kp * (sp.position - q) + sp.kd * (sp.velocity - qd) + sp.effort, -effort_limit, effort_limit)
        return sim.joint_efforts(), law, sp

    tau, law, sp = efforts_and_law()
    np.testing.assert_allclose(tau[body], law[body], atol=1e-6)
    knee = sim.robot.joint_names.index("left_knee")
    assert abs(tau[knee]) > 5.0, "a held crouch needs knee torque"
    assert np.all(sp.kp[body] > 0) and np.all(sp.velocity[body] == 0.0)
    # HOLD lasting past its time: DAMP, the efforts are pure damping and the robot sinks
    harness.run(watchdog.hold_to_damp_s)
    assert sim.stop_states()["body"] == StopState.DAMP
    harness.run(0.05)
    tau, law, sp = efforts_and_law()
    assert np.all(sp.kp[body] == 0.0) and np.all(sp.effort[body] == 0.0)
    np.testing.assert_allclose(tau[body], law[body], atol=1e-6)
    z_damp = sim.base_pose()[0][2]
    harness.run(1.0)
    assert sim.base_pose()[0][2] < z_damp - 0.2, "a damped robot sinks"
