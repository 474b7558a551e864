"""forma_hands cores: synergy limits and the collision-free rule (forward kinematics of the
description), thumb opposition, taxonomy completeness, the grasp state machine on synthetic touch
and effort signals, and goal refusals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pinocchio as pin
import pytest

from forma_description import RobotModel, expand_description
from forma_description.subtree import hand_urdf
from forma_hands.errors import HandsError
from forma_hands.grasp import ErrorCode, GraspConfig, GraspController, GraspGoal, Phase, validate_goal
from forma_hands.hand_joints import FINGERS, LOCAL_JOINTS, LONG_FINGERS, HandJoints
from forma_hands.synergies import SPREAD_FAN, Synergy, synergy_targets
from forma_hands.taxonomy import GRASP_TYPE_NAMES, grasp_types

FINGER_RADIUS_M = 0.0085


@pytest.fixture(scope="module")
def urdf() -> str:
    return expand_description("male")


@pytest.fixture(scope="module", params=["left", "right"])
def side(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def hand(urdf, side) -> HandJoints:
    return HandJoints.from_robot(RobotModel.from_urdf(urdf), side)


class HandFK:
    """Phalanx segments of one hand from pinocchio forward kinematics."""

    def __init__(self, urdf: str, side: str) -> None:
        self.side = side
        self.model = pin.buildModelFromXML(hand_urdf(urdf, side))
        self.data = self.model.createData()
        self.idx = {self.model.names[i]: self.model.joints[i].idx_q for i in range(1, self.model.njoints)}

    def update(self, targets: dict[str, float]) -> None:
        q = pin.neutral(self.model)
        for local, v in targets.items():
            q[self.idx[f"{self.side}_{local}"]] = v
        pin.framesForwardKinematics(self.model, self.data, q)

    def point(self, frame: str) -> np.ndarray:
        return self.data.oMf[self.model.getFrameId(f"{self.side}_{frame}")].translation.copy()

    def segments(self, finger: str) -> list[tuple[np.ndarray, np.ndarray]]:
        if finger == "thumb":
            chain = ("thumb_metacarpal", "thumb_proximal", "thumb_distal", "thumb_tip")
        else:
            chain = tuple(f"{finger}_{link}" for link in ("proximal", "middle", "distal", "tip"))
        pts = [self.point(c) for c in chain]
        return list(zip(pts[:-1], pts[1:], strict=True))


def segment_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    s = np.linspace(0.0, 1.0, 21)
    pa = a[0] + s[:, None] * (a[1] - a[0])
    pb = b[0] + s[:, None] * (b[1] - b[0])
    return float(np.min(np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)))


def adjacent_gap_m(fk: HandFK) -> float:
    """Smallest surface gap between phalanges of adjacent long fingers [m] (negative = crossing)."""
    gaps = []
    for f1, f2 in itertools.pairwise(LONG_FINGERS):
        for a in fk.segments(f1):
            for b in fk.segments(f2):
                gaps.append(segment_distance(a, b) - 2 * FINGER_RADIUS_M)
    return min(gaps)


SYNERGY_GRID = [Synergy(c, s, o) for c in np.linspace(0, 1, 6) for s in (0.0, 0.5, 1.0) for o in (0.0, 0.5, 1.0)]


def test_synergy_targets_are_within_the_description_limits(hand):
    for syn in SYNERGY_GRID:
        q = synergy_targets(syn, hand)
        assert set(q) == set(LOCAL_JOINTS)
        hand.check(q)  # raises if any is out of limits


def test_synergy_values_outside_0_1_or_nan_are_refused():
    for bad in ({"closure": 1.2}, {"spread": -0.1}, {"thumb_opposition": math.nan}, {"closure": math.inf}):
        with pytest.raises(HandsError, match=next(iter(bad))):
            Synergy(**bad)


def test_synergy_command_space_never_crosses_adjacent_fingers(urdf, side, hand):
    fk = HandFK(urdf, side)
    worst = math.inf
    for syn in SYNERGY_GRID:
        fk.update(synergy_targets(syn, hand))
        worst = min(worst, adjacent_gap_m(fk))
    assert worst > -0.0005, f"adjacent phalanges overlap by {-worst * 1e3:.1f} mm"


def test_without_the_rule_full_spread_at_full_closure_would_cross(urdf, side, hand):
    """The check above can fail: spread kept while closing, or a fan that turns fingers inward, crosses."""
    fk = HandFK(urdf, side)
    q = synergy_targets(Synergy(1.0, 0.0, 0.0), hand)
    for f in LONG_FINGERS:  # middle and little toward the index/ring: a non-monotone fan
        q[f"{f}_mcp_abd"] = {"index": -0.35, "middle": 0.35, "ring": 0.35, "little": -0.35}[f]
    fk.update(q)
    assert adjacent_gap_m(fk) < -0.002
    assert SPREAD_FAN["middle"] == 0.0 and SPREAD_FAN["little"] >= SPREAD_FAN["ring"]


@pytest.mark.parametrize("grasp, fingers", [("pinch", ("index",)), ("tripod", ("index", "middle"))])
def test_thumb_opposes_index_and_middle_pads(urdf, side, hand, grasp, fingers):
    """On the way from pre-shape to closed, the thumb tip passes within 1 cm of the index (and middle) tips."""
    fk = HandFK(urdf, side)
    t = grasp_types(hand)[grasp]
    best = math.inf
    for u in np.linspace(0, 1, 41):
        fk.update({j: t.preshape[j] + u * (t.closed[j] - t.preshape[j]) for j in LOCAL_JOINTS})
        target = np.mean([fk.point(f"{f}_tip") for f in fingers], axis=0)
        best = min(best, float(np.linalg.norm(fk.point("thumb_tip") - target)))
    assert best < 0.010, f"{grasp}: thumb tip stays {best * 1e3:.1f} mm from the {fingers} tips"


def wrap_error_m(fk: HandFK, radius_m: float, side: str) -> tuple[float, float]:
    """How well the five fingertips lie on one cylinder of radius_m whose axis runs across the palm
    (the palm link's x) in front of it: (worst tip distance from the surface [m], cosine of the
    angle between thumb and middle tip around the axis; -1 = opposite)."""
    out = 1.0 if side == "right" else -1.0  # out of the palm along the palm link's y
    tips = {f: fk.point(f"{f}_tip")[1:] for f in FINGERS}  # (y, z)
    best = (math.inf, 1.0)
    for depth in np.linspace(0.0, 0.08, 33):
        for z in np.linspace(-0.02, -0.12, 41):
            c = np.array([out * (0.015 + depth), z])
            err = max(abs(np.linalg.norm(tips[f] - c) - radius_m) for f in FINGERS)
            if err < best[0]:
                th, mid = tips["thumb"] - c, tips["middle"] - c
                best = (err, float(th @ mid / np.linalg.norm(th) / np.linalg.norm(mid)))
    return best


@pytest.mark.parametrize("diameter_m", [0.06, 0.07, 0.08])
def test_power_grasp_closes_around_a_6_to_8cm_cylinder(urdf, side, hand, diameter_m):
    """On its closing path the power grasp passes a closure where all five fingertips lie within
    1 cm of one cylinder across the palm, the thumb on the far side of it from the fingers."""
    fk = HandFK(urdf, side)
    t = grasp_types(hand)["power"]
    best = (math.inf, 1.0)
    for u in np.linspace(0, 1, 21):
        fk.update({j: t.preshape[j] + u * (t.closed[j] - t.preshape[j]) for j in LOCAL_JOINTS})
        err, cos = wrap_error_m(fk, diameter_m / 2, side)
        if cos < -0.5 and err < best[0]:
            best = (err, cos)
    assert best[0] < 0.010, (
        f"no closure wraps a {diameter_m * 100:.0f} cm cylinder (best tip error {best[0] * 1e3:.1f} mm)"
    )


def test_taxonomy_is_complete_with_a_preshape_and_a_closing_strategy(hand):
    types = grasp_types(hand)
    assert set(types) == set(GRASP_TYPE_NAMES)
    for name, t in types.items():
        hand.check(t.preshape)
        hand.check(t.closed)
        if name in ("open", "relax", "point"):
            assert not t.closes
            continue
        assert t.closes and t.required_contacts and set(t.required_contacts) <= set(t.closing_fingers)
        assert 0 < t.close_speed_per_s <= 2.0
        moved = [j for j in LOCAL_JOINTS if abs(t.closed[j] - t.preshape[j]) > 0.05]
        assert moved, f"{name} closes nothing"


# --- the state machine on synthetic signals ------------------------------------------------------
class FakeHand:
    """A hand whose fingers stop at an object: joint follows its target until the finger's closure
    reaches `block_at[f]`; beyond it the finger presses with effort kp * (target - blocked)."""

    def __init__(self, hand: HandJoints, ctrl: GraspController, block_at: dict[str, float] | None) -> None:
        self.hand, self.ctrl, self.block_at = hand, ctrl, block_at or {}
        self.q = {j: 0.0 for j in LOCAL_JOINTS}
        self.effort = {j: 0.0 for j in LOCAL_JOINTS}

    def touch(self) -> list[float]:
        out = []
        for f in FINGERS:
            u, b = self.ctrl.u.get(f, 0.0) if hasattr(self.ctrl, "u") else 0.0, self.block_at.get(f)
            out.append(0.0 if b is None or u < b else 40.0 * (u - b) + 0.5)
        return out

    def step(self, targets: dict[str, float]) -> None:
        for j in LOCAL_JOINTS:
            self.q[j] = targets[j]
            self.effort[j] = 0.0


def run(ctrl: GraspController, fake: FakeHand, seconds: float, t0: float = 0.0, dt: float = 0.01, knock=False):
    """Tick the controller against the fake hand; knock=True takes the object away at first contact."""
    t = t0
    fb = None
    while t < t0 + seconds:
        if knock and ctrl.phase == Phase.CLOSE and any(ctrl.contact_seen.values()):
            fake.block_at = {}
        targets, fb = ctrl.tick(t, dt, fake.q, fake.effort, fake.touch())
        if targets is not None:
            fake.step(targets)
        t += dt
        if ctrl.outcome is not None and ctrl.phase != Phase.HOLD and ctrl.phase != Phase.PRESHAPE:
            break
    return t, fb


@pytest.fixture
def ctrl(hand) -> GraspController:
    return GraspController(hand, grasp_types(hand), GraspConfig())


def goal(hand, grasp="power", force=10.0, **kw) -> GraspGoal:
    return GraspGoal(kw.pop("side", hand.side), grasp, force, **kw)


def test_grasp_on_an_object_reaches_holding_and_stops_each_finger_at_its_force_limit(ctrl, hand):
    fake = FakeHand(hand, ctrl, {f: 0.4 for f in FINGERS})
    ctrl.start(goal(hand, force=10.0), 0.0, fake.q)
    t, fb = run(ctrl, fake, 5.0)
    assert ctrl.outcome is not None and ctrl.outcome.success and ctrl.outcome.holding, ctrl.outcome
    assert ctrl.phase == Phase.HOLD and fb.contacts == 5
    limit = 10.0 / 5
    for i, f in enumerate(FINGERS):
        assert fake.touch()[i] >= limit and fake.touch()[i] < limit + 1.0  # stopped at, not far past, the limit
        assert ctrl.u[f] < 0.5


def test_no_object_ends_in_no_contact_failure_never_success(ctrl, hand):
    fake = FakeHand(hand, ctrl, None)
    ctrl.start(goal(hand), 0.0, fake.q)
    run(ctrl, fake, 6.0)
    assert ctrl.outcome is not None and not ctrl.outcome.success and not ctrl.outcome.holding
    assert ctrl.outcome.code == ErrorCode.NO_CONTACT and "without touching" in ctrl.outcome.message


def test_object_knocked_away_mid_grasp_is_a_failure(ctrl, hand):
    fake = FakeHand(hand, ctrl, {f: 0.6 for f in FINGERS})
    ctrl.start(goal(hand, force=30.0), 0.0, fake.q)
    run(ctrl, fake, 6.0, knock=True)
    assert ctrl.outcome is not None and not ctrl.outcome.success
    assert ctrl.outcome.code in (ErrorCode.OBJECT_LOST, ErrorCode.NO_CONTACT)


def test_object_lost_while_holding_raises_an_event(ctrl, hand):
    fake = FakeHand(hand, ctrl, {f: 0.4 for f in FINGERS})
    ctrl.start(goal(hand), 0.0, fake.q)
    t, _ = run(ctrl, fake, 5.0)
    assert ctrl.phase == Phase.HOLD
    fake.block_at = {}  # dropped
    run(ctrl, fake, 1.0, t0=t)
    assert ctrl.lost is not None and ctrl.lost.code == ErrorCode.OBJECT_LOST
    assert ctrl.outcome.success  # the grasp itself had succeeded; the loss is the event
    events = ctrl.pop_events()
    assert len(events) == 1 and "lost" in events[0]


def test_timeout_when_the_fingers_never_settle(hand):
    ctrl = GraspController(hand, grasp_types(hand), GraspConfig())
    fake = FakeHand(hand, ctrl, {f: 0.3 for f in FINGERS})
    fake.touch = lambda: [0.35] * 5  # contact, but never reaching the force limit
    ctrl.start(goal(hand, force=20.0, timeout_s=2.0), 0.0, fake.q)
    # the fingers then close fully with contact: that is not "holding" (limit never reached)
    run(ctrl, fake, 4.0)
    assert ctrl.outcome is not None and not ctrl.outcome.success


def test_open_and_relax_succeed_when_the_shape_is_reached_without_holding(ctrl, hand):
    fake = FakeHand(hand, ctrl, None)
    ctrl.start(goal(hand, "open"), 0.0, fake.q)
    run(ctrl, fake, 3.0)
    assert ctrl.outcome.success and not ctrl.outcome.holding and ctrl.phase == Phase.DONE
    assert all(abs(fake.q[j] - grasp_types(hand)["open"].preshape[j]) < 1e-6 for j in LOCAL_JOINTS)


def test_preshape_is_rate_limited(ctrl, hand):
    fake = FakeHand(hand, ctrl, None)
    ctrl.start(goal(hand, "power"), 0.0, fake.q)
    before = dict(fake.q)
    targets, _ = ctrl.tick(0.0, 0.01, fake.q, fake.effort, fake.touch())
    assert max(abs(targets[j] - before[j]) for j in LOCAL_JOINTS) <= 3.0 * 0.01 + 1e-9


def test_cancel_releases_toward_the_open_shape(ctrl, hand):
    fake = FakeHand(hand, ctrl, {f: 0.4 for f in FINGERS})
    ctrl.start(goal(hand), 0.0, fake.q)
    t, _ = run(ctrl, fake, 5.0)
    out = ctrl.cancel(t, "canceled by the client")
    assert out.code == ErrorCode.CANCELED
    run(ctrl, fake, 3.0, t0=t)
    assert all(abs(fake.q[j] - grasp_types(hand)["open"].preshape[j]) < 1e-6 for j in LOCAL_JOINTS)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"grasp_type": "claw"}, "unknown grasp type 'claw'; valid: power, spherical"),
        ({"max_force_n": -1.0}, "max_force_n -1.0"),
        ({"max_force_n": math.nan}, "max_force_n nan"),
        ({"max_force_n": 0.0}, "max_force_n 0.0"),
        ({"max_force_n": 500.0}, "max_force_n 500.0"),
        ({"hand": "wrong"}, "goal for hand 'wrong'"),
        ({"timeout_s": -2.0}, "timeout_s -2.0"),
        ({"object_position_m": (0.1, math.nan, 0.0)}, "object pose"),
        ({"object_size_m": (0.07, -0.01, 0.07)}, "negative"),
    ],
)
def test_bad_goals_are_refused_with_a_reason(hand, bad, match):
    fields = {"hand": hand.side, "grasp_type": "power", "max_force_n": 10.0, **bad}
    with pytest.raises(HandsError, match=match.replace("(", r"\(")):
        validate_goal(GraspGoal(**fields), hand.side, grasp_types(hand), GraspConfig())


def test_goal_for_the_other_hand_is_refused(hand):
    other = "left" if hand.side == "right" else "right"
    with pytest.raises(HandsError, match=f"goal for hand '{other}'"):
        validate_goal(GraspGoal(other, "power", 10.0), hand.side, grasp_types(hand), GraspConfig())


def test_a_refused_goal_changes_nothing(ctrl, hand):
    fake = FakeHand(hand, ctrl, None)
    ctrl.hold_position(fake.q)
    before = dict(ctrl.targets)
    with pytest.raises(HandsError):
        ctrl.start(goal(hand, "claw"), 0.0, fake.q)
    assert ctrl.phase == Phase.IDLE and ctrl.targets == before


def test_description_without_the_hand_is_refused(urdf):
    robot = RobotModel.from_urdf(hand_urdf(urdf, "right"))
    with pytest.raises(HandsError, match="no left hand joints .* hands in it: right"):
        HandJoints.from_robot(robot, "left")


def test_opposed_synergies_close_along_the_power_grasps_path(hand):
    """thumb_opposition 1: closure 0 is the power grasp's pre-shape, 1 its closed shape, and every
    closure between is the straight line of the grasp controller's own closing (a policy commanding
    synergies wraps a cup as the controller does)."""
    power = grasp_types(hand)["power"]
    for closure in np.linspace(0.0, 1.0, 5):
        q = synergy_targets(Synergy(closure, 0.0, 1.0), hand)
        want = {j: power.preshape[j] + closure * (power.closed[j] - power.preshape[j]) for j in LOCAL_JOINTS}
        assert max(abs(q[j] - want[j]) for j in LOCAL_JOINTS) < 1e-9
