"""Acceptance trials of whole-body control (issue 3): standing, push recovery against the
joint-PD hold measured in the same run, reaching, and limits over every command."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin

from forma_control.wbc.reach import ReachabilityChecker, ReachProgress
from tests.accept.registry import Figure, trial
from tests.support.scenarios import PUSH_DIRECTIONS, fallen, largest_survived_impulse, wbc_stand

POSITION_TOLERANCE_M = 0.02
ORIENTATION_TOLERANCE_RAD = math.radians(5.0)


def limit_violations(outputs, model) -> dict[str, int]:
    """Commands past a joint's position, velocity or torque limit, counted over WbcOutputs."""
    pos = sum(int(np.sum((o.position < model.lower - 1e-9) | (o.position > model.upper + 1e-9))) for o in outputs)
    vel = sum(int(np.sum(np.abs(o.velocity) > model.velocity_limit + 1e-9)) for o in outputs)
    eff = sum(int(np.sum(np.abs(o.effort) > model.effort_limit + 1e-9)) for o in outputs)
    return {"position": pos, "velocity": vel, "effort": eff}


@trial("wbc_stand_60s")
def wbc_stand_60s() -> dict:
    """Whole-body control holds the robot up for 60 s of sim time in the tabletop world."""
    outputs: list = []
    sim, harness, controller = wbc_stand(world="tabletop", outputs=outputs)
    z0 = sim.base_pose()[0][2]
    worst = [0.0, False]

    def observe(s):
        worst[0] = max(worst[0], abs(s.base_pose()[0][2] - z0))
        worst[1] = worst[1] or fallen(s)

    harness.run(60.0, observe)
    bad = limit_violations(outputs, controller.m)
    return {
        "pelvis_height_max_dev_m": Figure(round(worst[0], 4), "m", "< 0.05", worst[0] < 0.05),
        "fell": Figure(worst[1], "", "False", not worst[1]),
        "commands_rejected": Figure(len(harness.rejections), "", "0", not harness.rejections),
        "limit_violations": Figure(str(bad), "", "all 0", not any(bad.values())),
        "mujoco_warnings": Figure(str(sim.warnings() or "none"), "", "none", not sim.warnings()),
    }


@trial("wbc_push_recovery")
def wbc_push_recovery() -> dict:
    """Largest 0.2 s torso push survived, by bisection per direction, for whole-body control and
    the joint-PD hold in the same run: >= 1.5x the PD hold in every direction and >= 15 N s."""
    out = {}
    ratios, impulses = [], []
    for direction in PUSH_DIRECTIONS:
        pd = largest_survived_impulse(direction, controller="pd")
        wbc = largest_survived_impulse(direction, controller="wbc")
        ratio = wbc / max(pd, 1e-9)
        ratios.append(ratio)
        impulses.append(wbc)
        ok = ratio >= 1.5 and wbc >= 15.0
        out[f"impulse_{direction}_Ns"] = Figure(round(wbc, 2), "N s", ">= 1.5x PD and >= 15", ok, baseline=round(pd, 2))
        out[f"ratio_{direction}"] = Figure(round(ratio, 2), "x PD", ">= 1.5", ratio >= 1.5)
    out["impulse_min_Ns"] = Figure(round(min(impulses), 2), "N s", ">= 15", min(impulses) >= 15.0)
    out["ratio_min"] = Figure(round(min(ratios), 2), "x PD", ">= 1.5", min(ratios) >= 1.5)
    return out


def sample_reachable_targets(controller, rng: np.random.Generator, n: int):
    """Palm poses from random arm configurations in front of and beside the robot, a third of
    them with the elbow nearly straight (near the workspace's boundary); in odom."""
    m = controller.m
    checker = ReachabilityChecker(m)
    q_now = controller.q_ref
    targets = []
    while len(targets) < n:
        side = ("left", "right")[len(targets) % 2]
        idx = checker.arm_v[side]
        q = q_now.copy()
        arm = rng.uniform(m.lower[idx], m.upper[idx]) * 0.6
        arm[2] = rng.uniform(-1.6, -0.1)  # shoulder pitch: arm forward, up to above the shoulder
        arm[3] = rng.uniform(0.0, 0.9)  # shoulder roll: outward
        near_boundary = len(targets) % 3 == 0
        arm[5] = rng.uniform(0.05, 0.3) if near_boundary else rng.uniform(0.3, 1.8)  # elbow
        q[m.q_index[idx]] = arm
        data = m.model.createData()
        pin.framesForwardKinematics(m.model, data, q)
        goal = data.oMf[m.frame[f"{side}_hand"]].copy()
        torso = data.oMf[m.frame["torso"]]
        if torso.actInv(goal.translation)[0] < 0.05:
            continue  # keep the palm in front of the chest (no arm-through-torso poses)
        verdict = checker.check(side, goal, q_now, POSITION_TOLERANCE_M, ORIENTATION_TOLERANCE_RAD)
        if verdict.reachable:
            targets.append((side, goal, near_boundary))
    return targets


def infeasible_targets(controller):
    """Targets no arm can take: far away, behind the back, and at an impossible orientation."""
    m = controller.m
    torso = controller.reference_pose("torso")
    palm = controller.reference_pose("right_hand")
    far = pin.SE3(palm.rotation, palm.translation + torso.rotation @ np.array([1.5, 0.0, 0.0]))
    behind = pin.SE3(palm.rotation, torso.translation + torso.rotation @ np.array([-0.3, -0.1, 0.1]))
    front = torso.translation + torso.rotation @ np.array([0.35, -0.2, 0.0])
    # fingers pointing back at the body, palm down: palm up, with the spine turning, is reachable
    twisted = pin.SE3(torso.rotation @ np.column_stack([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]), front)
    del m
    return {"1.5 m away": far, "behind the back": behind, "impossible orientation": twisted}


@trial("wbc_reaching")
def wbc_reaching(n_targets: int = 24, seed: int = 3) -> dict:
    """Seeded random reachable hand targets (a third near the workspace boundary) reached within
    2 cm and 5 deg in <= 2 s while standing; infeasible targets end unreachable with a reason."""
    outputs: list = []
    sim, harness, controller = wbc_stand(outputs=outputs)
    harness.run(0.5)
    rng = np.random.default_rng(seed)
    checker = ReachabilityChecker(controller.m)
    reached, times, errors_cm, errors_deg, fell = 0, [], [], [], False
    for side, goal, _ in sample_reachable_targets(controller, rng, n_targets):
        controller.set_hand_target(side, goal)
        progress = ReachProgress(side, goal, POSITION_TOLERANCE_M, ORIENTATION_TOLERANCE_RAD, sim.time + 2.0)
        t0 = sim.time
        while True:
            harness.step()
            status, dist, ang = progress.update(controller.measured_pose(f"{side}_hand"), sim.time)
            if status != "running":
                break
        reached += status == "reached"
        times.append(sim.time - t0)
        errors_cm.append(dist * 100)
        errors_deg.append(math.degrees(ang))
        fell = fell or fallen(sim)
        controller.set_hand_target(side, None)
        harness.run(0.3)
    out = {
        "reached": Figure(f"{reached}/{n_targets}", "", f"{n_targets}/{n_targets}", reached == n_targets),
        "time_p50_s": Figure(round(float(np.median(times)), 2), "s", note="target set -> within tolerance for 0.1 s"),
        "time_max_s": Figure(round(float(np.max(times)), 2), "s", "<= 2.0", bool(np.max(times) <= 2.0 + 1e-9)),
        "final_error_p50_cm": Figure(round(float(np.median(errors_cm)), 2), "cm"),
        "final_error_max_cm": Figure(round(float(np.max(errors_cm)), 2), "cm", "<= 2"),
        "final_error_max_deg": Figure(round(float(np.max(errors_deg)), 2), "deg", "<= 5"),
        "fell": Figure(fell, "", "False", not fell),
    }
    for name, goal in infeasible_targets(controller).items():
        verdict = checker.check("right", goal, controller.q_ref, POSITION_TOLERANCE_M, ORIENTATION_TOLERANCE_RAD)
        out[f"unreachable_{name.replace(' ', '_').replace('.', '')}"] = Figure(
            verdict.reason, "", "unreachable, with a reason", not verdict.reachable
        )
    bad = limit_violations(outputs, controller.m)
    out["limit_violations"] = Figure(str(bad), "", "all 0", not any(bad.values()))
    out["commands_rejected"] = Figure(len(harness.rejections), "", "0", not harness.rejections)
    return out
