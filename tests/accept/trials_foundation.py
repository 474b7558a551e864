"""Acceptance trials of the foundation (issue: workspace, description, simulation)."""

from __future__ import annotations

import mujoco
import numpy as np

from forma_control.posture import PostureRamp
from forma_description.poses import named_pose
from forma_hardware import JointCommand
from forma_sim.lockstep import LockstepHarness
from forma_sim.scene import available_worlds
from forma_sim.simulation import build_simulation
from tests.accept.registry import Figure, trial
from tests.accept.scenarios import PUSH_DIRECTIONS, fallen, largest_survived_impulse, pd_stand, random_joint_targets


@trial("stand_60s")
def stand_60s() -> dict:
    """The joint-PD stand holds the robot up for 60 s of sim time in the tabletop world."""
    sim, harness = pd_stand(world="tabletop")
    z0 = sim.base_pose()[0][2]
    worst = [0.0, False]

    def observe(s):
        worst[0] = max(worst[0], abs(s.base_pose()[0][2] - z0))
        worst[1] = worst[1] or fallen(s)

    harness.run(60.0, observe)
    return {
        "pelvis_height_max_dev_m": Figure(round(worst[0], 4), "m", "< 0.05", worst[0] < 0.05),
        "fell": Figure(worst[1], "", "False", not worst[1]),
        "commands_rejected": Figure(len(harness.rejections), "", "0", not harness.rejections),
        "mujoco_warnings": Figure(str(sim.warnings() or "none"), "", "none", not sim.warnings()),
    }


@trial("pd_hold_push_recovery")
def pd_hold_push_recovery() -> dict:
    """Largest 0.2 s chest push the joint-PD stand survives, by bisection, per direction.
    The baseline whole-body control must beat (>= 1.5x in every direction, >= 15 N s)."""
    out = {}
    impulses = {}
    for direction in PUSH_DIRECTIONS:
        impulses[direction] = largest_survived_impulse(direction)
        out[f"impulse_{direction}_Ns"] = Figure(impulses[direction], "N s", note="0.2 s push on the torso")
    out["impulse_min_Ns"] = Figure(min(impulses.values()), "N s", note="baseline for whole-body control")
    return out


def _fist_hold(physics_rate_hz: float, ball: str) -> dict:
    """Cup the right hand palm-up, drop a ball in, close the fist, watch it for 3 s."""
    sim = build_simulation(world="tabletop", physics_rate_hz=physics_rate_hz)
    robot = sim.robot
    idx = {n: i for i, n in enumerate(robot.joint_names)}
    pose = named_pose("stand", robot)
    pose[idx["right_elbow"]], pose[idx["right_shoulder_pitch"]], pose[idx["right_forearm_yaw"]] = 1.57, -0.2, 1.57
    closed = pose.copy()
    fist = {
        "finger_mcp": 1.3,
        "finger_pip": 1.5,
        "finger_dip": 1.0,
        "thumb_cmc_abd": 1.0,
        "thumb_cmc_rot": 1.2,
        "thumb_mcp": 0.8,
        "thumb_ip": 0.8,
        "palm_arch": 0.4,
    }
    for j in robot.joints:
        if j.group == "right_hand" and j.kind in fist:
            closed[idx[j.name]] = fist[j.kind]
    limits = robot.limits_arrays()
    ramp = PostureRamp(robot.joint_names, pose, 1.0, lower=limits["lower"], upper=limits["upper"])
    drop_s = 2.0

    def control(s):
        if not ramp.started:
            ramp.start(s.joint_positions(), s.time)
        blend = min(max((s.time - drop_s - 0.02) / 0.3, 0.0), 1.0)
        return JointCommand(robot.joint_names, position=ramp.target(s.time) + blend * (closed - pose), stamp_s=s.time)

    harness = LockstepHarness(sim)
    harness.add_controller("hand", 100.0, control)
    harness.activate()
    harness.run(drop_s)
    joint = sim.model.joint(ball)
    palm = sim.model.site("right_hand").id
    adr, dof = joint.qposadr[0], joint.dofadr[0]
    sim.data.qpos[adr : adr + 3] = sim.data.site_xpos[palm] + 0.06 * sim.data.site_xmat[palm].reshape(3, 3)[:, 2]
    sim.data.qvel[dof : dof + 6] = 0.0
    body = sim.model.body(ball).id
    penetration, force, speed = [0.0], [], []
    wrench = np.zeros(6)

    def observe(s):
        total = 0.0
        for i, c in enumerate(s.data.contact[: s.data.ncon]):
            if body in (s.model.geom_bodyid[c.geom1], s.model.geom_bodyid[c.geom2]):
                penetration[0] = max(penetration[0], -c.dist)
                mujoco.mj_contactForce(s.model, s.data, i, wrench)
                total += wrench[0]
        force.append(total)
        speed.append(np.linalg.norm(s.data.cvel[body][3:]))

    harness.run(3.0, observe)
    last = round(0.5 / sim.control_period_s)
    return {
        "held": bool(np.linalg.norm(sim.data.xpos[body] - sim.data.site_xpos[palm]) < 0.08),
        "penetration_mm": penetration[0] * 1e3,
        "force_cv": float(np.std(force[-last:]) / max(np.mean(force[-last:]), 1e-9)),
        "speed_p99_mm_s": float(np.percentile(speed[-last:], 99) * 1e3),
        "warnings": sim.warnings(),
    }


@trial("hand_contact_physics_rate")
def hand_contact_physics_rate() -> dict:
    """Do the hands' contacts need 1 kHz physics? A fist holding a ball at 500 vs 1000 Hz."""
    out = {}
    for ball in ("orange_ball", "purple_ball"):
        r500, r1000 = _fist_hold(500.0, ball), _fist_hold(1000.0, ball)
        for rate, r in (("500", r500), ("1000", r1000)):
            out[f"{ball}_{rate}hz_held"] = Figure(r["held"], "", "True", r["held"] and not r["warnings"])
            out[f"{ball}_{rate}hz_penetration_mm"] = Figure(round(r["penetration_mm"], 2), "mm")
            out[f"{ball}_{rate}hz_contact_force_cv"] = Figure(round(r["force_cv"], 4), "", note="std/mean, last 0.5 s")
        gain = r500["penetration_mm"] - r1000["penetration_mm"]
        out[f"{ball}_penetration_gain_1khz_mm"] = Figure(round(gain, 2), "mm", note="what 1 kHz buys")
    return out


@trial("worlds_random_commands")
def worlds_random_commands() -> dict:
    """Every world steps 1 s under random joint commands (5 seeds each) with no MuJoCo warning."""
    out = {}
    for world in available_worlds():
        warnings = {}
        for seed in range(5):
            sim = build_simulation(world=world)
            harness = LockstepHarness(sim)
            targets = iter(random_joint_targets(sim, seed, 600))
            harness.add_controller(
                "random",
                500.0,
                lambda s, t=targets: JointCommand(s.robot.joint_names, position=next(t), stamp_s=s.time),
            )
            harness.activate()
            harness.run(1.0)
            warnings.update(sim.warnings())
            if not (np.all(np.isfinite(sim.data.qpos)) and np.all(np.isfinite(sim.data.qvel))):
                warnings["non-finite state"] = seed
        out[f"{world}_warnings"] = Figure(str(warnings or "none"), "", "none", not warnings)
    return out


@trial("model_integrity")
def model_integrity() -> dict:
    sim = build_simulation(world="tabletop")
    m = sim.model
    limits = sim.robot.limits_arrays()
    forcerange_ok = bool(
        np.allclose(m.actuator_forcerange[sim.actuator_ids], np.stack([-limits["effort"], limits["effort"]], 1))
    )
    checks = {
        "free_floating_pelvis": m.jnt_type[m.body_jntadr[sim.base_body]] == mujoco.mjtJoint.mjJNT_FREE,
        "gravity_9_81": bool(np.allclose(m.opt.gravity, [0, 0, -9.81])),
        "mass_65kg": abs(m.body_subtreemass[sim.base_body] - 65.0) < 0.5,
        "no_gravity_compensation": bool(np.all(m.body_gravcomp == 0)),
        "no_equality_constraints": m.neq == 0,
        "torques_clipped_to_effort_limits": forcerange_ok and bool(np.all(m.actuator_forcelimited[sim.actuator_ids])),
    }
    return {k: Figure(bool(v), "", "True", bool(v)) for k, v in checks.items()}
