"""Arm planning figures (forma_planning, the pip side's OMPL planner): planning time of the right
arm (9 joints, scapula elevation .. wrist yaw) from `stand` to a goal among the objects of a
cluttered table, and the share of goals planned within the 2 s timeout, over seeded layouts:

    python -m tests.bench.planning_bench --seeds 0-49      # prints the figures as JSON
    make bench BENCH=bench_planning                        # the default seeds, into build/bench.json

Each seed draws a table (a support-plane slab 15-25 cm below the pelvis, in front of the robot)
with 4-8 boxes on it, and an arm goal: a configuration drawn uniformly within the joint limits
whose palm is over the table, 3-30 cm above it, free of collision (padding included). The baseline
of the success rate is the straight joint motion (what a controller without the planner does),
checked at 0.002 rad against the exact geometry; the planner's trajectories are checked the same way
(between consecutive samples) and a plan that touches anything counts as a failure.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import ompl.util as ou
import pinocchio as pin

from forma_description.poses import named_pose
from forma_planning import ArmPlanner, Box, NoPlanError, Scene, SupportPlane
from forma_planning.arm_planner import DEFAULT_TIMEOUT_S, OBSTACLE_PADDING_M

GROUP = "right_arm"
DEFAULT_SEEDS = range(0, 30)
DENSE_STEP_RAD = 0.002
GOAL_DRAWS = 20000  # rejection sampling of a goal configuration, per layout


def cluttered_table(rng: np.random.Generator) -> Scene:
    """A table in front of the robot's right side with 4-8 boxes on it (base_link)."""
    top_z = rng.uniform(-0.25, -0.15)
    table = SupportPlane("table", (0.0, 0.0, 1.0), top_z, (0.55, -0.1), (0.5, 0.9))
    boxes = []
    for k in range(int(rng.integers(4, 9))):
        size = (rng.uniform(0.04, 0.12), rng.uniform(0.04, 0.12), rng.uniform(0.05, 0.25))
        centre = (rng.uniform(0.32, 0.75), rng.uniform(-0.5, 0.2), top_z + size[2] / 2)
        yaw = rng.uniform(-np.pi, np.pi)
        boxes.append(Box(f"object_{k}", centre, size, (0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2))))
    return Scene(boxes=tuple(boxes), planes=(table,))


def goal_over_table(planner: ArmPlanner, start: dict[str, float], scene: Scene, rng: np.random.Generator):
    """An arm goal [rad] whose palm is over the table and which the planner accepts, or None."""
    padded = planner.checker(GROUP, start, scene, OBSTACLE_PADDING_M)
    joints = planner.group_joints(GROUP)
    limits = planner.limits(joints)
    table = scene.planes[0]
    (cx, cy), (sx, sy) = table.extent_center_xy_m, table.extent_size_xy_m
    hand = padded.model.getFrameId(f"{GROUP.split('_')[0]}_hand")
    for _ in range(GOAL_DRAWS):
        q = rng.uniform(limits.lower_rad, limits.upper_rad)
        pin.framesForwardKinematics(padded.model, padded.data, padded.model_q(q))
        x, y, z = padded.data.oMf[hand].translation
        over = abs(x - cx) < sx / 2 - 0.05 and abs(y - cy) < sy / 2 - 0.05 and 0.03 < z - table.offset_m < 0.30
        if over and padded.is_free(q):
            return dict(zip(joints, map(float, q), strict=True))
    return None


def _motion_free(checker, a: np.ndarray, b: np.ndarray) -> bool:
    steps = int(np.ceil(np.max(np.abs(b - a)) / DENSE_STEP_RAD)) + 1
    return all(checker.is_free(a + s * (b - a)) for s in np.linspace(0.0, 1.0, steps))


def run(seeds) -> dict:
    planner = ArmPlanner()
    start = dict(zip(planner.robot.joint_names, map(float, named_pose("stand", planner.robot)), strict=True))
    joints = planner.group_joints(GROUP)
    ou.RNG.setSeed(1 + min(seeds))  # OMPL's samplers: repeatable in a fresh process (README)
    times_ms, cpu_ms, planned, straight, layouts, smoothed, fell_back, no_goal = [], [], 0, 0, 0, 0, 0, []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scene = cluttered_table(rng)
        goal = goal_over_table(planner, start, scene, rng)
        if goal is None:
            no_goal.append(seed)
            continue
        layouts += 1
        exact = planner.checker(GROUP, start, scene)
        q_start, q_goal = (np.array([c[j] for j in joints]) for c in (start, goal))
        straight += _motion_free(exact, q_start, q_goal)
        t0, cpu0 = time.perf_counter(), time.thread_time()
        try:
            plan = planner.plan(GROUP, start, goal, scene, timeout_s=DEFAULT_TIMEOUT_S)
        except NoPlanError:
            times_ms.append((time.perf_counter() - t0) * 1e3)
            cpu_ms.append((time.thread_time() - cpu0) * 1e3)
            continue
        times_ms.append(plan.planning_time_s * 1e3)
        cpu_ms.append((time.thread_time() - cpu0) * 1e3)
        samples = plan.trajectory.positions_rad
        planned += all(_motion_free(exact, a, b) for a, b in zip(samples[:-1], samples[1:], strict=True))
        smoothed += plan.smoothed
        fell_back += not plan.smoothed and len(plan.waypoints_rad) > 2
    return {
        "seeds": [min(seeds), max(seeds)],
        "layouts": layouts,
        "no_goal_found": no_goal,
        "planned": planned,
        "straight_free": straight,
        "smoothed": smoothed,
        "fell_back": fell_back,
        "p50_ms": float(np.percentile(times_ms, 50)) if times_ms else float("nan"),
        "p95_ms": float(np.percentile(times_ms, 95)) if times_ms else float("nan"),
        "cpu_p50_ms": float(np.percentile(cpu_ms, 50)) if cpu_ms else float("nan"),
        "cpu_p95_ms": float(np.percentile(cpu_ms, 95)) if cpu_ms else float("nan"),
    }


def bench_planning(seeds=DEFAULT_SEEDS) -> dict:
    from tests.bench.run_bench import figure

    seeds = list(seeds)
    r = run(seeds)
    n = max(r["layouts"], 1)
    where = f"right arm, stand to a goal over a cluttered table, {r['layouts']} layouts (seeds {seeds[0]}-{seeds[-1]})"
    return {
        "plan_arm_p50_ms": figure(
            r["p50_ms"],
            "ms",
            note=f"{where}; search + shortcutting + smoothing, wall time (CPU {r['cpu_p50_ms']:.0f} ms)",
            lower_is_better=True,
        ),
        "plan_arm_p95_ms": figure(
            r["p95_ms"],
            "ms",
            note=f"{where}; failures count at their time (CPU {r['cpu_p95_ms']:.0f} ms)",
            lower_is_better=True,
        ),
        "plan_success_rate": figure(
            r["planned"] / n,
            "",
            baseline=r["straight_free"] / n,
            note=f"{r['planned']}/{n} planned collision-free within {DEFAULT_TIMEOUT_S:g} s ({r['smoothed']} as "
            f"splines, {r['fell_back']} fell back to trapezoids at the corners, the rest one straight segment); "
            f"baseline: the straight joint motion ({r['straight_free']}/{n} collision-free)",
        ),
    }


def main(argv: list[str]) -> int:
    from tests.accept.run_accept import parse_seeds

    seeds = list(DEFAULT_SEEDS)
    if argv[:1] == ["--seeds"] and len(argv) == 2:
        seeds = parse_seeds(argv[1])
    elif argv:
        print("usage: python -m tests.bench.planning_bench [--seeds A-B]", file=sys.stderr)
        return 2
    print(json.dumps(bench_planning(seeds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
