"""Acceptance trials of the foundation (issue: workspace, description, simulation)."""

from __future__ import annotations

import mujoco
import numpy as np

from forma_hands.lockstep import run_grasp
from forma_hardware import JointCommand
from forma_sim.lockstep import LockstepHarness
from forma_sim.scene import available_worlds
from forma_sim.simulation import build_simulation
from tests.accept.registry import Figure, seeds, trial
from tests.support.scenarios import PUSH_DIRECTIONS, fallen, largest_survived_impulse, pd_stand, random_joint_targets


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


@trial("hand_contact_physics_rate")
def hand_contact_physics_rate() -> dict:
    """Do the hands' contacts need 1 kHz physics? The hand rig's side power grasp (hand_rig.py) of
    the ball and the cup, lifted 10 cm and held 5 s, at 500 and at 1000 Hz physics. (It was a ball
    dropped into the standing robot's palm-up hand, then a fist: since the palm's arch and the
    elliptic friction cones, the ball rolls off the palm before the fingers close, at either rate.)"""
    out = {}
    for obj in ("ball", "cup"):
        runs = {rate: run_grasp(obj, seed=0, randomize=False, physics_rate_hz=rate) for rate in (500.0, 1000.0)}
        for rate, r in runs.items():
            name = f"{obj}_{rate:.0f}hz"
            out[f"{name}_held"] = Figure(r.held, "", "True", r.held and not r.warnings, note=r.message)
            out[f"{name}_penetration_mm"] = Figure(round(r.penetration_mm, 2), "mm", note="deepest contact, 5 s hold")
            out[f"{name}_hold_drift_mm"] = Figure(round(r.hold_drift_m * 1e3, 2), "mm", note="sank in the hand")
        gain = runs[500.0].penetration_mm - runs[1000.0].penetration_mm
        out[f"{obj}_penetration_gain_1khz_mm"] = Figure(round(gain, 2), "mm", note="what 1 kHz buys")
    return out


@trial("worlds_random_commands")
def worlds_random_commands() -> dict:
    """Every world steps 1 s under random joint commands (uniform within the joint limits) with no
    MuJoCo warning: each world on every seed (`--seeds`, default 0-4, development seeds)."""
    out = {}
    chosen = seeds(range(5))
    for world in available_worlds():
        warnings = {}
        for seed in chosen:
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
