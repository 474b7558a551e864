"""Acceptance trial of collision-free arm planning (issue 24), lockstep MuJoCo, full model, judged by
simulator truth (tests/support/arm_execution.py): a box on the table's edge, the right palm's goal
behind it, the plan (forma_planning) followed by the WBC while it balances; arm contacts with the box,
the table and the robot's own body checked after every physics step.

Only layouts where the direct reach (the Cartesian hand target without the planner, same layout,
same run) touches something count: a layout it reaches cleanly needs no planner and is skipped, and
further seeds are drawn after the last given one (at most as many again) until as many layouts
qualify as seeds were given. Every seed that ran is recorded. Also: impossible goals (inside the
box, 1.5 m away) fail with the reason within the planning timeout (wall time), the SRDF's "Never"
pairs do not collide in fresh configurations drawn from the trial's seed, and bad requests are
refused with the reason. Seeds 9000-9009 by default (development seeds: the layouts' generator and
the harness were tuned on seeds 0-9, not on these); `--seeds` for others:

python -m tests.accept.run_accept arm_planning --seeds 9000-9009
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pinocchio as pin

from forma_control.wbc.arm_trajectory import FollowOutcome
from forma_description.poses import named_pose
from forma_moveit_config import collision_matrix, semantic
from forma_moveit_config.paths import srdf_path
from forma_planning import ArmPlanner, Box, NoPlanError, PlanningError, PlanRequestError, Scene
from tests.accept.registry import Figure, note_seeds, rate, seeds, trial
from tests.support.arm_execution import (
    BALANCE_MARGIN_M,
    BASE_AT_START_M,
    PLANNING_TIMEOUT_S,
    Layout,
    draw_layout,
    execute,
    scene_in_base,
)

SEEDS = list(range(9000, 9010))
GROUP = "right_arm"
REACHED_M = 0.01  # the palm this close to the goal by simulator truth counts as reached [m]
REQUIRED_SHARE = 0.9  # the issue: >= 9 of 10 layouts
# sim time of the direct reach; run to the end, not stopped at its first contact, so that what it
# touches later (the box, after the table's edge or the torso) is seen too (first contacts on seeds
# 0-9: 0.06-0.13 s in)
DIRECT_REACH_S = 3.0
TIMEOUT_MARGIN_S = 0.5  # wall time beyond the planning timeout a failure may take to come back
FRESH_SAMPLES = 20000  # configurations for the collision-matrix cross-check (~8 s)
FAR_M = 1.5  # the out-of-reach goal's distance from the pelvis [m]; the arm reaches ~0.6 m from the shoulder


def _contact_kind(contact: str) -> str:
    """What an arm contact of ContactWatch was with: the box, the table, or the robot's own body."""
    if "obstacle" in contact:
        return "box"
    if "table" in contact:
        return "table"
    return "floor" if "floor" in contact else "body"


def _base() -> pin.SE3:
    return pin.SE3(np.eye(3), np.array(BASE_AT_START_M))


def _impossible_goals(
    planner: ArmPlanner, start: dict[str, float], layout: Layout
) -> list[tuple[str, bool, float, str]]:
    """Pose goals no arm configuration reaches free of collision: the box's centre (with the layout's
    goal orientation) and a point FAR_M from the pelvis in the goal's direction. Each must raise
    NoPlanError with a reason within PLANNING_TIMEOUT_S (+ margin) of wall time. Rows: (goal, ok,
    wall time [s], reason)."""
    base = _base()
    scene = scene_in_base(layout, base.translation, base.rotation, BALANCE_MARGIN_M)
    goal_base = base.actInv(pin.SE3(pin.utils.rpyToMatrix(*layout.goal_rpy_rad), np.array(layout.goal_xyz_m)))
    quat = tuple(map(float, pin.Quaternion(goal_base.rotation).coeffs()))
    inside_box = tuple(map(float, scene.boxes[0].center_in_base_m))
    direction = goal_base.translation / np.linalg.norm(goal_base.translation)
    far = tuple(map(float, FAR_M * direction))
    rows = []
    for what, position in (("inside the box", inside_box), (f"{FAR_M} m away", far)):
        t0 = time.perf_counter()
        try:
            planner.plan_to_pose(GROUP, start, position, quat, scene, timeout_s=PLANNING_TIMEOUT_S)
            ok, reason = False, "planned"
        except NoPlanError as exc:
            ok, reason = bool(str(exc)), str(exc)
        except PlanningError as exc:  # a refusal is no answer to "is there a path?"
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        wall = time.perf_counter() - t0
        rows.append((what, ok and wall <= PLANNING_TIMEOUT_S + TIMEOUT_MARGIN_S, wall, reason))
    return rows


def _bad_requests(
    planner: ArmPlanner, start: dict[str, float], rng: np.random.Generator
) -> list[tuple[str, bool, str]]:
    """Bad goals through the planner's API, each refused (PlanRequestError) naming what is wrong."""
    joints = planner.group_joints(GROUP)
    limits = planner.limits(joints)
    checker = planner.checker(GROUP, start)
    q = rng.uniform(limits.lower_rad, limits.upper_rad)
    while not checker.is_free(q):  # a goal free of self-collision: the only fault is the one added
        q = rng.uniform(limits.lower_rad, limits.upper_rad)
    free_goal = dict(zip(joints, map(float, q), strict=True))
    # a 6 cm box around the goal's palm: the goal is in collision with it
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    palm = checker.data.oMf[checker.model.getFrameId("right_hand")].translation
    around_palm = Scene(boxes=(Box("cup", tuple(map(float, palm)), (0.06, 0.06, 0.06)),))
    unit = (0.0, 0.0, 0.0, 1.0)
    cases: list[tuple[str, Callable[[], object], str]] = [  # (what, request, what the reason must say)
        ("unknown group", lambda: planner.plan("middle_arm", start, free_goal), "unknown planning group 'middle_arm'"),
        (
            "unknown group, pose goal",
            lambda: planner.plan_to_pose("center_arm", start, (0.3, -0.2, 0.0), unit),
            "unknown planning group 'center_arm'",
        ),
        (
            "NaN pose",
            lambda: planner.plan_to_pose(GROUP, start, (0.3, float("nan"), 0.0), unit),
            "is not finite or malformed",
        ),
        (
            "non-unit quaternion",
            lambda: planner.plan_to_pose(GROUP, start, (0.3, -0.2, 0.0), (0.0, 0.0, 0.5, 0.5)),
            "is not a unit quaternion",
        ),
        (
            "NaN joint goal",
            lambda: planner.plan(GROUP, start, {**free_goal, "right_elbow": float("nan")}),
            "right_elbow = nan",
        ),
        (
            "joint goal outside the limits",
            lambda: planner.plan(GROUP, start, {**free_goal, "right_elbow": 9.0}),
            "right_elbow = 9.000 rad outside",
        ),
        (
            "joint of the other side",
            lambda: planner.plan(GROUP, start, {**free_goal, "left_elbow": 0.3}),
            "not in the group: left_elbow",
        ),
        (
            "goal in collision",
            lambda: planner.plan(GROUP, start, free_goal, around_palm),
            "goal state of right_arm is in collision (or within 1 cm of an obstacle): cup-",
        ),
    ]
    rows = []
    for what, call, expected in cases:
        try:
            call()
            rows.append((what, False, "planned"))
        except PlanRequestError as exc:
            rows.append((what, expected in str(exc), str(exc)[:90]))
        except PlanningError as exc:
            rows.append((what, False, f"{type(exc).__name__}: {exc}"[:120]))
    return rows


def _never_pairs_in_fresh_samples(urdf_xml: str, seed: int) -> Figure:
    """The SRDF's pairs disabled as Never, checked in configurations the matrix never saw."""
    text = srdf_path().read_text()
    matrix_seed, matrix_samples = collision_matrix.committed_seed_and_samples(text)
    never = {p for p, reason in semantic.parse_srdf(text).disabled.items() if reason == "Never"}
    where = f"{len(never)} Never pairs, {FRESH_SAMPLES} configurations uniform within all joint limits, seed {seed}"
    if seed == matrix_seed:
        return Figure(
            "not run", "", "0", False, note=f"seed {seed} is the matrix's own seed: the samples are not fresh"
        )
    counts = collision_matrix.collisions_among(urdf_xml, never, seed, FRESH_SAMPLES)
    colliding = {f"{a}-{b}": n for (a, b), n in counts.items() if n}
    return Figure(
        len(colliding), "pairs", "0", not colliding,
        note=f"{where} (the matrix: seed {matrix_seed}, {matrix_samples} samples){'; ' if colliding else ''}"
        f"{', '.join(f'{k} x{n}' for k, n in colliding.items())}",
    )  # fmt: skip


@trial("arm_planning")
def arm_planning_trial() -> dict:
    import ompl.util as ou

    given = seeds(SEEDS, record=False)
    wanted = len(given)
    # further seeds after the last given one, never one of the given ones, at most as many again
    extra = [s for s in range(max(given) + 1, max(given) + 1 + 2 * wanted) if s not in given][:wanted]
    ou.RNG.setSeed(given[0])  # OMPL's samplers: the same plans in a fresh process (forma_planning README)
    planner = ArmPlanner()
    start = dict(zip(planner.robot.joint_names, map(float, named_pose("stand_balanced", planner.robot)), strict=True))

    ok: list[bool] = []
    notes: list[str] = []
    ran: list[int] = []
    skipped: list[str] = []  # layouts the direct reach did not collide in
    no_layout: list[str] = []  # seeds draw_layout found no goal for
    first_kinds: dict[str, int] = {}  # what the direct reach touched first, over the qualifying layouts
    direct_box = direct_fell = 0  # qualifying layouts where the direct reach touched the box at all / fell
    palm_errors: list[float] = []
    tracking: list[float] = []
    impossible: list[tuple[str, bool, float, str]] = []
    for seed in given + extra:
        if len(ok) == wanted:
            break
        ran.append(seed)
        try:
            layout = draw_layout(planner, np.random.default_rng(seed))
        except RuntimeError as exc:  # no goal over the table in the draws: no layout from this seed
            no_layout.append(f"seed {seed}: {exc}")
            continue
        direct = execute(layout, None, timeout_s=DIRECT_REACH_S)
        if not direct.contacts:
            skipped.append(f"seed {seed}: palm {direct.palm_error_m * 100:.1f} cm, fell {direct.fell}")
            continue
        kind = _contact_kind(direct.contacts[0])
        first_kinds[kind] = first_kinds.get(kind, 0) + 1
        direct_box += any(_contact_kind(c) == "box" for c in direct.contacts)
        direct_fell += direct.fell
        impossible += [(f"seed {seed}, {row[0]}", *row[1:]) for row in _impossible_goals(planner, start, layout)]
        try:
            out = execute(layout, planner)
        except PlanningError as exc:
            ok.append(False)
            notes.append(f"seed {seed}: no plan: {exc}")
            continue
        succeeded = out.result is not None and out.result.outcome is FollowOutcome.SUCCEEDED
        good = succeeded and not out.contacts and not out.fell and out.palm_error_m < REACHED_M
        ok.append(good)
        palm_errors.append(out.palm_error_m)
        if out.result is not None:
            tracking.append(out.result.max_error_rad)
        notes.append(
            f"seed {seed}: {out.result.outcome.value if out.result else 'no result'}, "
            f"palm {out.palm_error_m * 1000:.1f} mm, contacts {out.contacts[:2]}, fell {out.fell}"
        )
    note_seeds(ran)

    figures: dict[str, Figure] = {}
    k, n = sum(ok), len(ok)
    drawn = len(ran) - len(no_layout)
    direct_free = len(skipped)
    failures = "; ".join(note for good, note in zip(ok, notes, strict=True) if not good)
    needed = math.ceil(REQUIRED_SHARE * wanted)
    figures["planned_reach_no_contact"] = rate(
        k, n, f">= {needed}/{wanted}", n == wanted and k >= needed, baseline=round(direct_free / max(drawn, 1), 3),
        note=f"layouts where the direct reach collided; reached within {REACHED_M * 100:g} cm (simulator truth), "
        f"trajectory SUCCEEDED, no arm contact with box/table/body (every physics step), no fall; baseline: the "
        f"direct reach's contact-free share over all {drawn} layouts drawn (0/{n} in these, by selection)"
        + (f"; failed: {failures}" if failures else ""),
    )  # fmt: skip
    kinds = ", ".join(f"{v} {kind}" for kind, v in sorted(first_kinds.items()))
    figures["direct_reach_collided"] = rate(
        drawn - direct_free, drawn,
        note=f"the Cartesian hand target without the planner, in every layout drawn (seeds {ran[0]}-{ran[-1]}), "
        f"{DIRECT_REACH_S:g} s of sim time, any arm contact (every physics step); first contact: {kinds or 'none'}; "
        f"touched the box at some point in {direct_box} of the {drawn - direct_free}, fell in {direct_fell}"
        + (f"; contact-free (skipped, not counted): {'; '.join(skipped)}" if skipped else ""),
    )  # fmt: skip
    figures["qualifying_layouts"] = Figure(
        n, "layouts", f"== {wanted}", n == wanted,
        note=f"drawn {drawn} (given {wanted}, at most {len(extra)} further seeds); skipped {direct_free}"
        + (f"; no layout: {'; '.join(no_layout)}" if no_layout else ""),
    )  # fmt: skip
    if palm_errors:
        figures["planned_palm_error_max_m"] = Figure(
            round(max(palm_errors), 4), "m", note=f"over the {len(palm_errors)} planned reaches, simulator truth"
        )
    if tracking:
        figures["traj_tracking_err_max_rad"] = Figure(
            round(max(tracking), 4), "rad", note="largest |measured - planned| arm joint while a trajectory ran"
        )
    good_impossible = sum(g for _, g, _, _ in impossible)
    walls = [wall for _, _, wall, _ in impossible]
    figures["impossible_goal_fails_in_time"] = rate(
        good_impossible, len(impossible), f"{len(impossible)}/{len(impossible)}", good_impossible == len(impossible),
        note=f"plan_to_pose to the box's centre and to {FAR_M} m away, per qualifying layout: NoPlanError with the "
        f"reason within the {PLANNING_TIMEOUT_S:g} s timeout + {TIMEOUT_MARGIN_S:g} s (wall); took "
        f"{min(walls, default=0):.2f}-{max(walls, default=0):.2f} s; e.g. "
        f"{'; '.join(f'{what}: {why}' for what, _, _, why in impossible[:2])}"
        + "".join(f"; FAILED {what} ({wall:.2f} s): {why}" for what, g, wall, why in impossible if not g),
    )  # fmt: skip
    bad = _bad_requests(planner, start, np.random.default_rng(given[0]))
    good_bad = sum(g for _, g, _ in bad)
    figures["bad_goals_refused_with_reason"] = rate(
        good_bad, len(bad), f"{len(bad)}/{len(bad)}", good_bad == len(bad),
        note="PlanRequestError naming the fault: " + ", ".join(what for what, _, _ in bad)
        + "".join(f"; FAILED {what}: {why}" for what, g, why in bad if not g),
    )  # fmt: skip
    figures["never_pairs_colliding_fresh"] = _never_pairs_in_fresh_samples(planner.urdf_xml, given[0])
    return figures
