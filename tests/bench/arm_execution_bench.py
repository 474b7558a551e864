"""Executing planned arm motions through whole-body control (issue 24, deliverable 3): over seeded
layouts of tests/support/arm_execution.py (a box on the table's edge, the right palm's goal behind
it), the plan followed by the WBC in MuJoCo while it balances, lockstep, judged by simulator truth.

    python -m tests.bench.arm_execution_bench --seeds 0-9     # figures as JSON
    make bench BENCH=bench_arm_execution                      # seeds 0-4, into build/bench.json

Figures: traj_tracking_err_max_rad (the largest |measured - planned| of an arm joint while a
trajectory ran, over all layouts), arm_execution_success_rate (reached within 1 cm with no arm
contact, checked every physics step, and standing; baseline: the straight Cartesian reach without
the planner, contact-free share).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from forma_planning import ArmPlanner, PlanningError
from tests.support.arm_execution import draw_layout, execute

DEFAULT_SEEDS = range(0, 5)
REACHED_M = 0.01  # the palm this close to the goal by simulator truth counts as reached [m]


def run(seeds) -> dict:
    import ompl.util as ou

    ou.RNG.setSeed(1 + min(seeds))  # OMPL's samplers: repeatable in a fresh process (forma_planning README)
    planner = ArmPlanner()
    rows = []
    for seed in seeds:
        layout = draw_layout(planner, np.random.default_rng(seed))
        try:
            planned = execute(layout, planner)
        except PlanningError as exc:
            rows.append({"seed": seed, "ok": False, "why": f"no plan: {exc}"})
            continue
        straight = execute(layout, None, stop_at_contact=True, timeout_s=3.0)
        ok = planned.palm_error_m < REACHED_M and not planned.contacts and not planned.fell
        rows.append(
            {
                "seed": seed,
                "ok": ok,
                "outcome": planned.result.outcome.value,
                "tracking_err_max_rad": planned.result.max_error_rad,
                "worst_joint": planned.result.worst_joint,
                "palm_error_m": planned.palm_error_m,
                "contacts": planned.contacts[:3],
                "fell": planned.fell,
                "straight_contacts": straight.contacts[:1],
            }
        )
    return {"rows": rows}


def bench_arm_execution(seeds=DEFAULT_SEEDS) -> dict:
    from tests.bench.run_bench import figure

    seeds = list(seeds)
    rows = run(seeds)["rows"]
    n = max(len(rows), 1)
    errors = [r["tracking_err_max_rad"] for r in rows if "tracking_err_max_rad" in r]
    ok = sum(r["ok"] for r in rows)
    straight_free = sum(not r.get("straight_contacts", [None]) for r in rows)
    where = f"{len(rows)} layouts (seeds {seeds[0]}-{seeds[-1]}), a box on the table's edge, the right palm behind it"
    return {
        "traj_tracking_err_max_rad": figure(
            max(errors) if errors else float("nan"),
            "rad",
            note=f"{where}; the largest |measured - planned| arm joint while the trajectory ran, lockstep MuJoCo",
            lower_is_better=True,
        ),
        "arm_execution_success_rate": figure(
            ok / n,
            "",
            baseline=straight_free / n,
            note=f"{ok}/{n} reached within {REACHED_M * 100:g} cm with no arm contact (every physics step) and "
            f"standing; baseline: the straight reach without the planner, {straight_free}/{n} contact-free",
        ),
    }


def main(argv: list[str]) -> int:
    from tests.accept.run_accept import parse_seeds

    seeds = parse_seeds(argv[argv.index("--seeds") + 1]) if "--seeds" in argv else list(DEFAULT_SEEDS)
    print(json.dumps(run(seeds), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
