"""Walking scenarios on the lockstep harness (full model, MuJoCo), judged by simulator truth:
shared by the CI smoke (tests/system/test_walk.py) and the acceptance trial (tests/accept/trials_walk.py)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from forma_control.lockstep_stand import fallen, wbc_stand
from forma_control.walk.gait import compose
from forma_control.walk.walk_to import WalkToGoal, WalkToProgress

WALK_TO_EVERY_TICKS = 5  # the wbc node follows a walk_to goal every 5 ticks


@dataclasses.dataclass(frozen=True)
class BodyForm:
    """A body form of urdf/body_forms.yaml at a standing height and mass."""

    body: str
    height_m: float
    mass_kg: float


# The two forms; the female one's mass scaled from the male's by height cubed (the same
# build): 65 kg x (1.65 / 1.73)^3 = 56 kg. The gait and the WBC take everything from the model.
FORMS = {"male": BodyForm("male", 1.73, 65.0), "female": BodyForm("female", 1.65, 56.0)}


@dataclasses.dataclass
class Push:
    """A horizontal push on the torso: when (sim time after the walk starts) and how hard."""

    at_s: float
    force_n: float
    direction_rad: float
    duration_s: float = 0.2


@dataclasses.dataclass
class WalkOutcome:
    moved_xy: np.ndarray  # base translation by simulator truth, in the start heading's frame [m]
    turned_rad: float
    fell: bool
    standing: bool  # the walk ended and standing balance resumed
    steps: int
    state: str = ""  # walk_to's end state
    qp_failed: bool = False
    # per side, while walking: the correlation of the hand's and the same side's foot's positions
    # ahead of the pelvis (simulator truth; arm swing in anti-phase: <= -0.5)
    arm_leg_correlation: dict[str, float] = dataclasses.field(default_factory=dict)


class _AheadOfPelvis:
    """Palms' and feet's positions ahead of the pelvis along the start heading, each physics step
    (simulator truth)."""

    def __init__(self, sim, start_yaw: float) -> None:
        self.sim, self.heading = sim, np.array([math.cos(start_yaw), math.sin(start_yaw)])
        self.rows: list[list[float]] = []
        self.bodies = [f"{side}_{part}" for side in ("left", "right") for part in ("palm", "foot")]

    def record(self) -> None:
        base = self.sim.base_pose()[0][:2]
        self.rows.append([float((self.sim.data.body(b).xpos[:2] - base) @ self.heading) for b in self.bodies])

    def correlation(self) -> dict[str, float]:
        rows = np.array(self.rows)
        if len(rows) < 10:
            return {}
        return {
            side: float(np.corrcoef(rows[:, 2 * k], rows[:, 2 * k + 1])[0, 1])
            for k, side in enumerate(("left", "right"))
        }


def yaw_of(sim) -> float:
    w, x, y, z = sim.base_pose()[1]
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def set_floor_friction(sim, friction: float) -> None:
    """The floor's sliding friction, as the soles meet it. MuJoCo takes the larger of two geoms'
    frictions, and the soles' is 1.0: the floor's alone below 1.0 changed nothing; given priority,
    the floor's applies."""
    floor = sim.model.geom("floor").id
    sim.model.geom_friction[floor][0] = friction
    sim.model.geom_priority[floor] = int(sim.model.geom_priority.max()) + 1


def standing_robot(friction: float, form: BodyForm = FORMS["male"]):
    sim, harness, controller = wbc_stand(
        pose="stand_balanced", body=form.body, height_m=form.height_m, mass_kg=form.mass_kg
    )
    set_floor_friction(sim, friction)
    harness.run(2.0)
    return sim, harness, controller


def _outcome(sim, controller, start_xy, start_yaw, fell, state="", qp_failed=False, limbs=None) -> WalkOutcome:
    c, s = math.cos(start_yaw), math.sin(start_yaw)
    d = sim.base_pose()[0][:2] - start_xy
    moved = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    turned = math.remainder(yaw_of(sim) - start_yaw, 2 * math.pi)
    steps = controller.gait.steps if controller.gait is not None else -1
    swing = limbs.correlation() if limbs is not None else {}
    return WalkOutcome(moved, turned, fell, not controller.walking, steps, state, qp_failed, swing)


def apply_push(sim, push: Push) -> None:
    force = (push.force_n * math.cos(push.direction_rad), push.force_n * math.sin(push.direction_rad), 0.0)
    sim.apply_wrench("torso", force, (0.0, 0.0, 0.0), push.duration_s)


def walk(
    velocity,
    seconds: float,
    friction: float = 1.0,
    push: Push | None = None,
    stop_s: float = 3.0,
    form: BodyForm = FORMS["male"],
) -> WalkOutcome:
    """Stand 2 s on the WBC, walk `seconds` at velocity (a pushed torso on the way), then a zero
    command for stop_s."""
    sim, harness, controller = standing_robot(friction, form)
    start_xy, start_yaw, t0 = sim.base_pose()[0][:2].copy(), yaw_of(sim), sim.time
    fell = [False]
    limbs = _AheadOfPelvis(sim, start_yaw)

    def watch(s):
        fell[0] = fell[0] or fallen(s)
        if t0 + 1.5 <= s.time <= t0 + seconds:  # walking at speed: after the first steps, before the stop
            limbs.record()

    controller.walk(np.asarray(velocity, float))
    try:
        if push is not None:  # (pushed before the walk began, the standing robot took every push)
            harness.run(push.at_s, watch)
            apply_push(sim, push)
        harness.run(max(seconds - (sim.time - t0), 0.0), watch)
        controller.walk(np.zeros(3))
        harness.run(stop_s, watch)
    except Exception as exc:  # the QP failing (infeasible) counts as a failed trial, not a crash
        if type(exc).__name__ != "QPFailed":
            raise
        return _outcome(sim, controller, start_xy, start_yaw, True, qp_failed=True)
    return _outcome(sim, controller, start_xy, start_yaw, fell[0], limbs=limbs)


def walk_to(
    goal_in_start,
    friction: float = 1.0,
    push: Push | None = None,
    timeout_s: float = 60.0,
    form: BodyForm = FORMS["male"],
) -> WalkOutcome:
    """The wbc/walk_to logic on the controller's own odometry to a pose given relative to where
    the robot stands (x, y, yaw); arrival within 0.1 m / 10 deg by the robot's estimate."""
    sim, harness, controller = standing_robot(friction, form)
    start_xy, start_yaw, t0 = sim.base_pose()[0][:2].copy(), yaw_of(sim), sim.time
    target = compose(controller.measured_floor_pose(), np.asarray(goal_in_start, float))
    goal = WalkToGoal(target, 0.1, math.radians(10), t0 + timeout_s)
    progress = WalkToProgress(goal, controller.walk_settings, t0)
    state, ticks, pushed, fell = "walking", 0, push is None, False
    try:
        while state == "walking" and not fell:
            harness.step()
            ticks += 1
            fell = fallen(sim)
            if not pushed and sim.time - t0 >= push.at_s:
                apply_push(sim, push)
                pushed = True
            if ticks % WALK_TO_EVERY_TICKS == 0:
                pose = controller.measured_floor_pose()
                state, command, _, _ = progress.update(pose, sim.time, not controller.walking)
                controller.walk(command)
    except Exception as exc:
        if type(exc).__name__ != "QPFailed":
            raise
        return _outcome(sim, controller, start_xy, start_yaw, True, "qp failed", True)
    return _outcome(sim, controller, start_xy, start_yaw, fell, state)
