"""Acceptance trial of the full robot's grasp (issue 4, "the full robot once whole-body control
exists"): standing on whole-body control in the tabletop world, the robot grasps the tennis ball,
the blue cup and the green box with its right hand from the side, lifts the palm 10 cm and holds 5 s
(tests/accept/robot_grasp.py). Each object is placed +-3 cm and +-30 deg yaw at random (issue 4).

Seeds 1000-1009: the plans' offsets were tuned on seeds 0-9, but successive box plans were scored on
1000-1009 before the one adopted, so these are development seeds too (issue 22). The simulation's friction
cones are elliptic with impratio 10 (forma_description MjcfOptions, every world); the same seeds
with MuJoCo's default pyramidal cones are measured beside it as a baseline figure (ball and cup).
robot_grasp_left runs the left hand on the same seeds, the plans mirrored (robot_grasp.py).
Absent (moved away after planning) and knocked away (swatted out of the closing hand) each on 3
seeds: the grasp must never report holding an object that is not in the hand.
"""

from __future__ import annotations

import math

import numpy as np

from tests.accept.registry import Figure, rate, seeds, trial
from tests.accept.robot_grasp import LIFT_M, MIRRORED_OBJECT, run_robot_grasp

SEEDS = range(1000, 1010)  # or --seeds; the absent / knocked-away runs take the first 3
ABSENT_RUNS = 3
OBJECTS = ("orange_ball", "blue_cup", "green_box")
REQUIRED = 0.9  # share of the placements per object (issue 4: 9 of 10)


def _object_figures(obj: str, side: str = "right") -> dict:
    chosen = seeds(SEEDS)
    runs = [run_robot_grasp(seed, obj, side=side) for seed in chosen]
    with_baseline = side == "right" and obj != "green_box"
    baseline = [run_robot_grasp(seed, obj, pyramidal_cones=True) for seed in chosen] if with_baseline else []
    absent = [run_robot_grasp(seed, obj, hold_s=1.0, present=False, side=side) for seed in chosen[:ABSENT_RUNS]]
    knocked = [run_robot_grasp(seed, obj, hold_s=1.0, knock=True, side=side) for seed in chosen[:ABSENT_RUNS]]
    # holding reported, yet the object did not come up with the palm and no loss was reported (a
    # hand that caught the swatted object and lifted it reported the truth)
    false_holding = sum(r.outcome_holding and not r.held and not r.lost_event for r in knocked)
    knocked_out = sum(not r.held for r in knocked)
    held, held_pyramidal = sum(r.held for r in runs), sum(r.held for r in baseline)
    absent_success = sum(r.outcome_holding for r in absent)
    held_cm = round((LIFT_M - 0.015) * 100, 1)
    lifts_cm = [round(r.lifted_m * 100, 1) for r in runs]
    stood = all(r.stood for r in runs)
    bad = {k: sum(r.limit_violations[k] for r in runs) for k in ("position", "velocity", "effort")}
    warnings: dict[str, int] = {}
    for r in runs:
        for name, count in r.warnings.items():
            warnings[name] = warnings.get(name, 0) + count
    rejected = sum(r.rejections for r in runs)
    cycles = [r.cycle_s for r in runs if not math.isnan(r.cycle_s)]
    ticks = [t for r in runs for t in r.hand_tick_us]
    failures = "; ".join(f"seed {s}: {r.message}" for s, r in zip(chosen, runs, strict=True) if not r.held)
    why_pyramidal = next((r.message for r in baseline if not r.held), "")
    figures = {
        "success": rate(held, len(runs), f">= {REQUIRED:.0%}", held >= REQUIRED * len(runs), note=failures),
        "lift_min_cm": Figure(
            min(lifts_cm), "cm", note=f"object rise after the hold, per seed {lifts_cm}; held needs >= {held_cm} cm"
        ),
        "reach_error_max_cm": Figure(
            round(max(r.reach_error_m for r in runs) * 100, 2), "cm", note="measured palm at the grasp pose"
        ),
        "stood": Figure(stood, "", "True", stood),
        "sole_drift_max_mm": Figure(round(max(r.sole_drift_m for r in runs) * 1000, 2), "mm", note="feet sliding"),
        "capture_margin_min_cm": Figure(
            round(min(r.capture_margin_min_m for r in runs) * 100, 2), "cm", note="capture point inside the soles"
        ),
        "limit_violations": Figure(str(bad), "", "all 0", not any(bad.values())),
        "commands_rejected": Figure(rejected, "", "0", rejected == 0),
        "mujoco_warnings": Figure(str(warnings or "none"), "", "none", not warnings),
        "grasp_cycle_s_p50": Figure(
            round(float(np.median(cycles)), 2) if cycles else math.nan, "s", note="grasp goal to holding"
        ),
        "hand_tick_p99_us": Figure(round(float(np.percentile(ticks, 99)), 1), "us"),
        "absent_reported_holding": rate(
            absent_success,
            len(absent),
            "0",
            absent_success == 0,
            note=f"object moved 30 cm away after planning: {absent[0].message if absent else ''}",
        ),
        "knocked_reported_holding": rate(
            false_holding,
            len(knocked),
            "0",
            false_holding == 0 and knocked_out > 0,
            note=f"swatted out of the closing hand: {knocked_out}/{len(knocked)} not lifted with the palm "
            f"(centre from the palm per seed {[round(r.object_from_palm_m * 100, 1) for r in knocked]} cm); "
            + "; ".join(r.message for r in knocked),
        ),
    }
    if baseline:
        figures["success_pyramidal_cones"] = rate(
            held_pyramidal, len(baseline), note=f"same seeds, the world's pyramidal cones: {why_pyramidal}"
        )
    key = obj if side == "right" else f"{side}_{MIRRORED_OBJECT.get(obj, obj)}"
    return {f"{key}_{name}": figure for name, figure in figures.items()}


@trial("robot_grasp")
def robot_grasp() -> dict:
    """Each object grasped, lifted 10 cm and held 5 s in >= 90 % of the placements (+-3 cm, +-30 deg), the robot
    standing throughout, every command within limits, no MuJoCo warning; with the object gone from
    the planned place the grasp reports failure, never holding."""
    out: dict = {}
    for obj in OBJECTS:
        out.update(_object_figures(obj))
    return out


@trial("robot_grasp_left")
def robot_grasp_left() -> dict:
    """The same with the left hand: the right hand's plans mirrored across the robot's sagittal
    plane (the red cup for the blue one), the same seeds, no pyramidal-cone baseline."""
    out: dict = {}
    for obj in OBJECTS:
        out.update(_object_figures(obj, side="left"))
    return out
