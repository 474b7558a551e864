"""Acceptance trials of the hands (issue 4), on the hand-on-a-stand rig (tests/accept/hand_rig.py,
world config/worlds/hand_stand.xml: cup 0.25 kg, box 0.15 kg, ball 0.058 kg, friction 0.8 against
the hand's 1.2; no adhesion, no helper constraints, the hand is position-servoed joints only).

hand_grasp: per object, 10 trials with the object moved by up to +-3 cm and turned by up to +-30
deg (seeded); each: grasp, lift 10 cm, hold 5 s. A trial counts when the action reported holding,
no object-lost event came, and the object rose >= 8.5 cm with the stand. Criterion >= 9/10 each.
hand_grasp_failures: the grasp must never report success with the object absent (moved 35 cm
away) or knocked away by a 40 N sideways push at first contact.
"""

from __future__ import annotations

import math

import numpy as np

from tests.accept.hand_rig import PLANS, run_grasp
from tests.accept.registry import Figure, trial

OBJECTS = ("cup", "box", "ball")
TRIALS_PER_OBJECT = 10


def grasp_statistics(objects=OBJECTS, n: int = TRIALS_PER_OBJECT) -> dict:
    runs = {obj: [run_grasp(obj, seed=1000 * i + k) for k in range(n)] for i, obj in enumerate(objects)}
    return runs


@trial("hand_grasp")
def hand_grasp() -> dict:
    """Grasp, lift 10 cm and hold 5 s: cup, box and ball, 10 randomized trials each."""
    out = {}
    runs = grasp_statistics()
    cycles, ticks, successes, total = [], [], 0, 0
    for obj, rs in runs.items():
        ok = sum(r.held for r in rs)
        successes, total = successes + ok, total + len(rs)
        cycles += [r.cycle_s for r in rs if math.isfinite(r.cycle_s)]
        ticks += [t for r in rs for t in r.tick_us]
        out[f"{obj}_success"] = Figure(
            f"{ok}/{len(rs)}",
            "",
            ">= 9/10",
            ok >= 9,
            note=f"{PLANS[obj].grasp_type}; failures: "
            + "; ".join(sorted({r.lost_event or r.message for r in rs if not r.held}))[:200],
        )
        settled = sum(
            r.outcome_holding and not r.lost_event and r.lifted_m >= 0.065 and r.hold_drift_m < 0.01 for r in rs
        )
        out[f"{obj}_held_after_settling"] = Figure(
            f"{settled}/{len(rs)}",
            "",
            note="lifted >= 6.5 cm (it may settle up to 3.5 cm into the hand at lift-off), then < 1 cm "
            "drift over the 5 s hold, no lost event (a looser reading than *_success; not the criterion)",
        )
        warnings = {k: v for r in rs for k, v in r.warnings.items()}
        out[f"{obj}_mujoco_warnings"] = Figure(str(warnings or "none"), "", "none", not warnings)
    out["grasp_success_rate"] = Figure(round(successes / total, 3), "", note="all objects")
    out["grasp_cycle_s_median"] = Figure(
        round(float(np.median(cycles)), 3) if cycles else math.nan, "s", note="goal to holding, sim time"
    )
    out["hand_tick_p99_us"] = Figure(round(float(np.percentile(ticks, 99)), 1), "us", note="grasp state machine")
    return out


@trial("hand_grasp_failures")
def hand_grasp_failures() -> dict:
    """Never success with no object, or with the object knocked away mid-grasp."""
    out = {}
    for obj in OBJECTS:
        absent = [run_grasp(obj, seed=k, present=False, hold_s=0.5) for k in range(3)]
        knocked = [run_grasp(obj, seed=k, knock=True, hold_s=0.5) for k in range(3)]
        bad_absent = sum(r.outcome_success for r in absent)
        # knocked away: either the grasp fails, or (if it still holds) it must not be holding nothing
        bad_knocked = sum(r.outcome_success and not r.held and not r.lost_event for r in knocked)
        out[f"{obj}_absent_reported_success"] = Figure(
            f"{bad_absent}/3", "", "0/3", bad_absent == 0, note="; ".join(sorted({r.message for r in absent}))[:160]
        )
        out[f"{obj}_knocked_reported_holding_nothing"] = Figure(
            f"{bad_knocked}/3", "", "0/3", bad_knocked == 0, note="; ".join(sorted({r.message for r in knocked}))[:160]
        )
    return out
