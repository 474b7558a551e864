"""Integrity of the simulated robot (DESIGN §7): built from the description, free-floating pelvis,
g = 9.81, 65 kg, no gravity compensation, welds or helper constraints, actuator torques clipped to
the description's effort limits; every world steps under random commands with no MuJoCo warning."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from forma_description.mjcf import FREE_JOINT
from forma_hardware import JointCommand
from forma_sim.scene import available_worlds, build_model
from forma_sim.simulation import build_simulation


@pytest.fixture(scope="module")
def model(robot):
    return build_model(robot, "tabletop")


def test_worlds_are_shipped():
    assert {"tabletop", "empty", "people"} <= set(available_worlds())


def test_pelvis_floats_freely_under_real_gravity(model, robot):
    free = model.joint(FREE_JOINT)
    assert free.type[0] == mujoco.mjtJoint.mjJNT_FREE
    assert model.body(free.bodyid[0]).name == robot.root_link == "base_link"
    assert model.body("base_link").parentid[0] == 0  # child of the world, nothing in between
    np.testing.assert_allclose(model.opt.gravity, [0.0, 0.0, -9.81])


def test_no_helpers_hold_the_robot_up(model):
    assert model.neq == 0, "equality constraints (welds) would hold the robot"
    assert np.all(model.body_gravcomp == 0.0), "gravity compensation would hide the robot's weight"
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_GRAVITY == 0
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CONTACT == 0


def test_robot_mass_is_65_kg(model):
    assert model.body_subtreemass[model.body("base_link").id] == pytest.approx(65.0, abs=0.5)


def test_one_torque_limited_actuator_per_joint(model, robot):
    assert model.nu == 82
    for j in robot.joints:
        act = model.actuator(j.name)
        assert model.joint(act.trnid[0]).name == j.name
        assert model.actuator_forcelimited[act.id] == 1
        np.testing.assert_allclose(act.forcerange, [-j.effort, j.effort])
        np.testing.assert_allclose(model.joint(j.name).range, [j.lower, j.upper])


def test_actuator_torque_never_exceeds_the_effort_limit(robot):
    """Command absurd targets within limits with full feed-forward: applied torque stays clipped."""
    sim = build_simulation(world="empty")
    sim.run(0.01)
    sim.contract.reset(sim.time, sim.joint_positions())
    limits = robot.limits_arrays()
    target = np.where(np.arange(82) % 2 == 0, limits["upper"], limits["lower"])
    worst = 0.0
    for _ in range(100):
        sim.submit(JointCommand(robot.joint_names, position=target, effort=limits["effort"], stamp_s=sim.time))
        sim.step_control()
        worst = max(worst, float(np.max(np.abs(sim.joint_efforts()) / limits["effort"])))
    assert worst == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("world", ["tabletop", "empty", "people"])
def test_world_steps_one_second_under_random_commands_without_warnings(world, robot):
    sim = build_simulation(world=world)
    rng = np.random.default_rng(7)
    limits = robot.limits_arrays()
    sim.run(0.01)
    ok, _, _ = sim.contract.reset(sim.time, sim.joint_positions())
    assert ok
    for _ in range(int(1.0 / sim.control_period_s)):
        q = rng.uniform(limits["lower"], limits["upper"])
        tau = rng.uniform(-0.3, 0.3, size=82) * limits["effort"]
        sim.submit(JointCommand(robot.joint_names, position=q, effort=tau, stamp_s=sim.time))
        sim.step_control()
    assert sim.warnings() == {}
    assert np.all(np.isfinite(sim.data.qpos)) and np.all(np.isfinite(sim.data.qvel))


def test_sensors_read_like_a_standing_robot():
    sim = build_simulation(world="empty")
    sim.run(2.0)  # the startup hold keeps the spawn pose; let the contacts settle
    imu = sim.imu()
    assert imu.linear_acceleration[2] == pytest.approx(9.81, abs=0.5)  # specific force, at rest
    assert np.linalg.norm(imu.angular_velocity) < 0.05
    loads = [sim.foot_wrench(side)[0][2] for side in ("left", "right")]
    feet_kg = sum(sim.model.body_subtreemass[sim.model.body(f"{s}_foot").id] for s in ("left", "right"))
    assert sum(loads) == pytest.approx((65.0 - feet_kg) * 9.81, rel=0.05)
    assert loads[0] == pytest.approx(loads[1], rel=0.1)
    assert np.all(sim.fingertip_forces("left") == 0.0)


def test_restart_puts_the_world_and_the_robot_back_and_powers_the_hardware_on():
    """sim/reset's core: after an e-stop and a fall, the robot stands at its initial pose on the
    floor again, the objects are back where the world put them, the hardware holds as at power-on
    (no e-stop), and sim time runs on."""
    from forma_hardware import StopState

    sim = build_simulation(world="tabletop", pose="stand_balanced")
    start_q, start_base = sim.joint_positions().copy(), sim.base_pose()[0].copy()
    cup = sim.data.body("red_cup").xpos.copy()
    sim.contract.estop(True, "test", sim.time)
    sim.apply_wrench("torso", (400.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.3)
    sim.data.body("red_cup").xfrc_applied[:3] = (0.0, 30.0, 0.0)
    sim.run(2.5)
    sim.data.body("red_cup").xfrc_applied[:3] = 0.0
    assert sim.base_pose()[0][2] < start_base[2] - 0.1, "the damped, pushed robot sank"
    assert np.linalg.norm(sim.data.body("red_cup").xpos - cup) > 0.02
    t = sim.time

    sim.restart()
    assert sim.time == pytest.approx(t)
    np.testing.assert_allclose(sim.joint_positions(), start_q, atol=1e-9)
    np.testing.assert_allclose(sim.base_pose()[0], start_base, atol=1e-6)
    np.testing.assert_allclose(sim.data.body("red_cup").xpos, cup, atol=1e-6)
    assert not sim.contract.estop_engaged
    assert set(sim.stop_states().values()) == {StopState.HOLD}
    sim.run(1.0)  # held as at power-on: it stands there
    assert abs(sim.base_pose()[0][2] - start_base[2]) < 0.02


def test_the_robot_stands_with_its_feet_centred_on_the_spawn_point_and_objects_have_ground_truth():
    """Every stand pose puts the soles' midpoint at the spawn point (the worlds place the table
    from there); object_poses gives the loose objects' truth, never the robot's root."""
    for pose in ("stand", "stand_balanced"):
        sim = build_simulation(world="tabletop", pose=pose)
        soles = np.array([sim.data.site_xpos[i] for i in sim.sole_sites.values()])
        np.testing.assert_allclose(soles[:, :2].mean(axis=0), (0.0, 0.0), atol=1e-9)
    objects = sim.object_poses()
    assert sorted(objects) == ["blue_cup", "green_box", "orange_ball", "purple_ball", "red_cup", "yellow_box"]
    position, quat = objects["red_cup"]
    np.testing.assert_allclose(position, sim.data.body("red_cup").xpos)
    assert quat.shape == (4,)
