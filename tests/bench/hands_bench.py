"""Hands speed figures on the hand-on-a-stand rig (lockstep): the grasp state machine's tick
(hand_tick_p99_us) beside the cost of building the hand's joint-command targets from a synergy
(the least any hand controller pays per tick); grasp_cycle_s (goal to holding, median, sim time)
and grasp_success_rate over a few randomized trials per object (the full statistics are the
hand_grasp acceptance trial)."""

from __future__ import annotations

import math
import time

import numpy as np


def bench_hands() -> dict:
    from forma_hands.hand_joints import HandJoints
    from forma_hands.lockstep import run_grasp
    from forma_hands.synergies import Synergy, synergy_targets
    from forma_sim.simulation import build_hand_simulation

    runs = [run_grasp(obj, seed=k, hold_s=1.0) for obj in ("cup", "box", "ball") for k in range(3)]
    ticks = [t for r in runs for t in r.tick_us]
    cycles = [r.cycle_s for r in runs if math.isfinite(r.cycle_s)]
    hand = HandJoints.from_robot(build_hand_simulation("right").robot, "right")
    base = []
    for i in range(2000):
        t0 = time.perf_counter()
        synergy_targets(Synergy((i % 100) / 100, 0.5, 0.5), hand)
        base.append((time.perf_counter() - t0) * 1e6)
    base_p99 = float(np.percentile(base, 99))
    p99 = float(np.percentile(ticks, 99))
    return {
        "hand_tick_p99_us": {
            "value": round(p99, 1),
            "unit": "us",
            "baseline": round(base_p99, 1),
            "ratio": round(p99 / base_p99, 2),
            "note": "grasp state machine per 100 Hz tick; baseline: synergy -> 22 targets",
        },
        "grasp_cycle_s": {
            "value": round(float(np.median(cycles)), 3) if cycles else None,
            "unit": "s",
            "baseline": None,
            "ratio": None,
            "note": "goal to holding, median, sim time (3 trials x cup/box/ball)",
        },
        "grasp_success_rate": {
            "value": round(sum(r.held for r in runs) / len(runs), 3),
            "unit": "",
            "baseline": None,
            "ratio": None,
            "note": "grasp + 10 cm lift + 1 s hold; full statistics: make accept hand_grasp",
        },
    }
