"""Acceptance trials of the hands (issue 4), on the hand-on-a-stand rig (tests/accept/hand_rig.py,
world config/worlds/hand_stand.xml: cup 0.25 kg, box 0.15 kg, ball 0.058 kg, friction 0.8 against
the hand's 1.2, elliptic friction cones; no adhesion, no helper constraints, the hand is
position-servoed joints only).

hand_grasp: per object, 10 trials with the object moved by up to +-3 cm and turned by up to +-30
deg (seeded: cup 0-9, box 1000-1009, ball 2000-2009; held out, the plans were developed on seeds
5000-5019 and 6000-6029; `--seeds A-B` runs the cup on A-B, the box on 1000 more, the ball on 2000
more); each: power grasp from the side (palm vertical), lift 10 cm, hold 5 s. A
trial counts when the action reported holding, no object-lost event came, and the object rose
>= 8.5 cm with the stand. Criterion >= 9/10 each. Measured: cup, box and ball 10/10 each (dev
seeds 50/50 each); with the default pyramidal friction cones the same plans gave 0/10 each on dev
seeds 5000-5009 (the soft friction crept, see hand_stand.xml).
hand_grasp_left: the same with the left hand, the right hand's plans mirrored (seeds 7000-7009,
8000-8009, 9000-9009; `--seeds A-B`: the cup on 7000 more, the box on 8000, the ball on 9000 more).
hand_grasp_failures: the grasp must never report success with the object absent (moved 35 cm
away), with the object absent and the hand 2 cm lower than planned (its little finger pressing the
bare table), or with the object knocked away by a 40 N push out of the hand's open side at first
contact. Measured: 0 of 27. The top-down spherical cage pressed 3-4 cm into the bare table does
report holding (top_down_bare_table_reported_holding, not a criterion: a known limit, see the
forma_hands README).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from forma_hands.lockstep import PLANS, TOP_DOWN_BALL, run_grasp
from tests.accept.registry import Figure, note_seeds, rate, seeds, trial

OBJECTS = ("cup", "box", "ball")
TRIALS_PER_OBJECT = 10


def object_seeds(first: int) -> dict[str, list[int]]:
    """Each object's seeds: the trial's seeds (`--seeds`, default 0-9) plus first + 1000 x its index."""
    base = seeds(range(TRIALS_PER_OBJECT), record=False)
    out = {obj: [first + 1000 * i + s for s in base] for i, obj in enumerate(OBJECTS)}
    note_seeds(s for chosen in out.values() for s in chosen)
    return out


def grasp_statistics() -> dict:
    return {obj: [run_grasp(obj, seed=seed) for seed in chosen] for obj, chosen in object_seeds(0).items()}


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
        out[f"{obj}_success"] = rate(
            ok,
            len(rs),
            ">= 90 %",
            ok >= 0.9 * len(rs),
            note=f"{PLANS[obj].grasp_type}; failures: "
            + "; ".join(sorted({r.lost_event or r.message for r in rs if not r.held}))[:200],
        )
        settled = sum(
            r.outcome_holding and not r.lost_event and r.lifted_m >= 0.065 and r.hold_drift_m < 0.01 for r in rs
        )
        out[f"{obj}_held_after_settling"] = rate(
            settled,
            len(rs),
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


@trial("hand_grasp_left")
def hand_grasp_left() -> dict:
    """The left hand, mirrored plans: cup, box and ball, 10 randomized trials each (seeds of their own)."""
    out = {}
    for obj, chosen in object_seeds(7000).items():
        rs = [run_grasp(obj, seed=seed, side="left") for seed in chosen]
        ok = sum(r.held for r in rs)
        out[f"left_{obj}_success"] = rate(
            ok,
            len(rs),
            ">= 90 %",
            ok >= 0.9 * len(rs),
            note="failures: " + "; ".join(sorted({r.lost_event or r.message for r in rs if not r.held}))[:200],
        )
    return out


def top_down_on_bare_table(chosen: Iterable[int] = range(3)) -> list:
    """The spherical cage from above, pressed 3 cm into the bare table (the ball moved away)."""
    x, y, z = TOP_DOWN_BALL.object_from_stand_m
    plan = dataclasses.replace(TOP_DOWN_BALL, object_from_stand_m=(x, y, z + 0.03))
    return [run_grasp("ball", seed=k, present=False, hold_s=0.5, plan=plan) for k in chosen]


@trial("hand_grasp_failures")
def hand_grasp_failures() -> dict:
    """Never success with no object, or with the object knocked away mid-grasp: every object and
    case on each seed (`--seeds`, default 0-2, development seeds; a seed draws the object's offset
    and yaw and the hand's placement error, as in hand_grasp)."""
    out = {}
    chosen = seeds(range(3))
    n = len(chosen)
    for obj in OBJECTS:
        absent = [run_grasp(obj, seed=k, present=False, hold_s=0.5) for k in chosen]
        x, y, z = PLANS[obj].object_from_stand_m
        lowered = dataclasses.replace(PLANS[obj], object_from_stand_m=(x, y, z + 0.02))
        table = [run_grasp(obj, seed=k, present=False, hold_s=0.5, plan=lowered) for k in chosen]
        knocked = [run_grasp(obj, seed=k, knock=True, hold_s=0.5) for k in chosen]
        bad_absent = sum(r.outcome_success for r in absent)
        bad_table = sum(r.outcome_success for r in table)
        # knocked away: either the grasp fails, or (if it still holds) it must not be holding nothing
        bad_knocked = sum(r.outcome_success and not r.held and not r.lost_event for r in knocked)
        out[f"{obj}_absent_reported_success"] = rate(
            bad_absent, n, f"0/{n}", bad_absent == 0, note="; ".join(sorted({r.message for r in absent}))[:160]
        )
        out[f"{obj}_bare_table_reported_success"] = rate(
            bad_table,
            n,
            f"0/{n}",
            bad_table == 0,
            note="object absent, hand 2 cm lower than planned: " + "; ".join(sorted({r.message for r in table}))[:120],
        )
        out[f"{obj}_knocked_reported_holding_nothing"] = rate(
            bad_knocked, n, f"0/{n}", bad_knocked == 0, note="; ".join(sorted({r.message for r in knocked}))[:160]
        )
    top = top_down_on_bare_table(chosen)
    out["top_down_bare_table_reported_holding"] = rate(
        sum(r.outcome_holding for r in top),
        len(top),
        note="known limit, not a criterion: the spherical cage from above pressed 3 cm into the bare table; "
        "fingertip touch and joint efforts alone do not tell the table from an object (forma_hands README)",
    )
    return out
