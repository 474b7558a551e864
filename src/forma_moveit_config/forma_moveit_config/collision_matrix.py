"""The disabled-collision matrix of the SRDF, computed the way MoveIt Setup Assistant does, with
pinocchio + coal on the description's collision geometry, reproducible from a seed:

    python -m forma_moveit_config.collision_matrix --seed 0 --samples 10000   # writes config/forma.srdf
    python -m forma_moveit_config.collision_matrix --check                    # the committed one is current?

Each pair of links with collision geometry is disabled for the first of these reasons that holds:
- User: listed in `semantic.USER_DISABLED`, each with its reason;
- Adjacent: joined by one joint, counting links rigidly fixed together and links without geometry
  as one body (a parent and its child always touch at the joint);
- Default: in collision at the default configuration (every joint at 0, or mid-range where 0 is
  outside its limits: MoveIt's default values);
- Always: in collision in at least `ALWAYS_FRACTION` of the sampled configurations;
- Never: never closer than `NEVER_MARGIN_M` in any of them (Setup Assistant: never in contact;
  the margin makes the verdict hold beyond the samples, see below).
Configurations are drawn uniformly within the joint limits, one after another from
`numpy.random.default_rng(seed)`, so the first k samples of a run are the samples of a run with
`--samples k`: a shorter run disables a superset of the longer run's Never pairs (the tests use that).
The pelvis pose does not change self-collision; the base stays at the origin.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin

from forma_description.robot_model import RobotModel
from forma_description.xacro_expand import expand_description
from forma_moveit_config import semantic
from forma_moveit_config.errors import MoveItConfigError
from forma_moveit_config.paths import srdf_path

ALWAYS_FRACTION = 0.95  # MoveIt Setup Assistant's default for "always in collision"
REASONS = ("User", "Adjacent", "Default", "Always", "Never")
DEFAULT_SEED = 0
DEFAULT_SAMPLES = 100000  # ten times Setup Assistant's default: see NEVER_MARGIN_M
# [m] a pair is Never only if it never came closer than this. Setup Assistant asks for no contact
# in 10 000 samples; on this robot (fingers reach feet, 82 joints sampled at once) that disabled
# 712 pairs, of which 355 collided within 100 000 samples, and a 5 cm margin over 100 000 samples
# left 113 pairs, none of which collided in 20 000 fresh samples of another seed.
NEVER_MARGIN_M = 0.05

LinkPair = tuple[str, str]


def _pair(a: str, b: str) -> LinkPair:
    return (a, b) if a < b else (b, a)


def adjacent_pairs(urdf_xml: str) -> set[LinkPair]:
    """Pairs of links with collision geometry that Setup Assistant calls adjacent."""
    root = ET.fromstring(urdf_xml)
    geometric = {link.get("name") for link in root.findall("link") if link.find("collision") is not None}
    # rigid bodies: links joined by fixed joints (union-find)
    parent_of = {link.get("name"): link.get("name") for link in root.findall("link")}

    def find(x: str) -> str:
        while parent_of[x] != x:
            parent_of[x] = parent_of[parent_of[x]]
            x = parent_of[x]
        return x

    joints = [(j.get("type"), j.find("parent").get("link"), j.find("child").get("link")) for j in root.findall("joint")]
    for kind, parent, child in joints:
        if kind == "fixed":
            parent_of[find(child)] = find(parent)
    members: dict[str, set[str]] = {}
    for link in parent_of:
        members.setdefault(find(link), set()).add(link)
    edges: dict[str, set[str]] = {body: set() for body in members}
    for kind, parent, child in joints:
        if kind != "fixed":
            a, b = find(parent), find(child)
            edges[a].add(b)
            edges[b].add(a)
    # a body without geometry joins its neighbours to one another (it would carry them rigidly apart
    # from its own joint: Setup Assistant treats such links as transparent)
    for body in sorted(members):
        if members[body] & geometric:
            continue
        neighbours = sorted(edges.pop(body))
        for n in neighbours:
            edges[n].discard(body)
        for i, a in enumerate(neighbours):
            for b in neighbours[i + 1 :]:
                edges[a].add(b)
                edges[b].add(a)
    pairs: set[LinkPair] = set()
    for body, links in members.items():
        links_g = sorted(links & geometric)
        pairs |= {_pair(a, b) for i, a in enumerate(links_g) for b in links_g[i + 1 :]}
        for other in edges.get(body, ()):
            pairs |= {_pair(a, b) for a in links_g for b in members[other] & geometric}
    return pairs


class SelfCollision:
    """Which link pairs of the description collide in a configuration (pinocchio + coal)."""

    def __init__(self, urdf_xml: str, margin_m: float = 0.0):
        self.model = pin.buildModelFromXML(urdf_xml)
        self.geometry = pin.buildGeomFromUrdfString(self.model, urdf_xml, pin.COLLISION)
        self.geometry.addAllCollisionPairs()
        self.data = self.model.createData()
        self.geometry_data = pin.GeometryData(self.geometry)
        for request in self.geometry_data.collisionRequests:
            request.security_margin = margin_m  # [m] closer than this counts as a collision
        link = [self.model.frames[o.parentFrame].name for o in self.geometry.geometryObjects]
        self.pair_links: list[LinkPair] = [
            _pair(link[cp.first], link[cp.second]) for cp in self.geometry.collisionPairs
        ]
        self.link_pairs: list[LinkPair] = sorted(set(self.pair_links))
        self.lower = self.model.lowerPositionLimit.copy()
        self.upper = self.model.upperPositionLimit.copy()
        if not (np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper))):
            raise MoveItConfigError("every joint of the description needs finite position limits to be sampled")

    def default_configuration(self) -> np.ndarray:
        """MoveIt's default values: 0 within the limits, else the middle of the range."""
        zero_ok = (self.lower <= 0.0) & (self.upper >= 0.0)
        return np.where(zero_ok, 0.0, 0.5 * (self.lower + self.upper))

    def configuration(self, positions: dict[str, float]) -> np.ndarray:
        """q with the named joints set [rad], the others at the default values."""
        q = self.default_configuration()
        for name, value in positions.items():
            if not self.model.existJointName(name):
                raise MoveItConfigError(f"unknown joint {name!r} in a configuration")
            q[self.model.joints[self.model.getJointId(name)].idx_q] = value
        return q

    def only(self, link_pairs: set[LinkPair] | None) -> list[int]:
        """Activate the geometry pairs of `link_pairs` (all when None); returns their indices."""
        active = []
        for i, pair in enumerate(self.pair_links):
            on = link_pairs is None or pair in link_pairs
            if on:
                self.geometry_data.activateCollisionPair(i)
                active.append(i)
            else:
                self.geometry_data.deactivateCollisionPair(i)
        return active

    def colliding(self, q: np.ndarray, active: list[int]) -> set[LinkPair]:
        pin.computeCollisions(self.model, self.data, self.geometry, self.geometry_data, q, False)
        results = self.geometry_data.collisionResults
        return {self.pair_links[i] for i in active if results[i].isCollision()}


def sample_configurations(checker: SelfCollision, seed: int, samples: int):
    """`samples` configurations uniform within the limits, drawn one by one from the seed."""
    rng = np.random.default_rng(seed)
    for _ in range(samples):
        yield rng.uniform(checker.lower, checker.upper)


@dataclasses.dataclass
class Matrix:
    disabled: dict[LinkPair, str]  # pair -> reason
    collision_counts: dict[LinkPair, int]  # over the samples, for the pairs still counted at the end
    seed: int
    samples: int

    def by_reason(self, reason: str) -> set[LinkPair]:
        return {p for p, r in self.disabled.items() if r == reason}


def compute_matrix(urdf_xml: str, seed: int = DEFAULT_SEED, samples: int = DEFAULT_SAMPLES) -> Matrix:
    if samples < 1:
        raise MoveItConfigError(f"samples must be at least 1, got {samples}")
    touch = SelfCollision(urdf_xml)  # real contact: Default, Always
    near = SelfCollision(urdf_xml, NEVER_MARGIN_M)  # closer than the margin: not Never
    disabled: dict[LinkPair, str] = {}
    for pair in semantic.USER_DISABLED:
        if _pair(*pair) not in touch.link_pairs:
            raise MoveItConfigError(f"user-disabled pair {pair} is no pair of links with collision geometry")
        disabled[_pair(*pair)] = "User"
    for pair in adjacent_pairs(urdf_xml) & set(touch.link_pairs) - set(disabled):
        disabled[pair] = "Adjacent"
    undecided = set(touch.link_pairs) - set(disabled)
    for pair in touch.colliding(touch.default_configuration(), touch.only(undecided)):
        disabled[pair] = "Default"
    undecided -= set(disabled)
    never, may_be_always = set(undecided), set(undecided)
    counts = dict.fromkeys(undecided, 0)
    misses_allowed = samples - int(np.ceil(ALWAYS_FRACTION * samples))
    active_near, active_touch = near.only(never), touch.only(may_be_always)
    for k, q in enumerate(sample_configurations(touch, seed, samples), start=1):
        if active_near:
            close = near.colliding(q, active_near)
            if close:
                never -= close
                active_near = near.only(never)
        if active_touch:
            for pair in touch.colliding(q, active_touch):
                counts[pair] += 1
            still = {p for p in may_be_always if k - counts[p] <= misses_allowed}
            if still != may_be_always:
                may_be_always = still
                active_touch = touch.only(may_be_always)
    for pair in sorted(undecided):
        if pair in may_be_always:
            disabled[pair] = "Always"
        elif pair in never:
            disabled[pair] = "Never"
    return Matrix(disabled, {p: counts[p] for p in may_be_always}, seed, samples)


def collisions_among(urdf_xml: str, pairs: set[LinkPair], seed: int, samples: int) -> dict[LinkPair, int]:
    """How often each of `pairs` collides in `samples` fresh configurations from `seed`."""
    checker = SelfCollision(urdf_xml)
    unknown = pairs - set(checker.link_pairs)
    if unknown:
        raise MoveItConfigError(f"pairs without collision geometry on both links: {sorted(unknown)}")
    active = checker.only(pairs)
    counts = dict.fromkeys(pairs, 0)
    for q in sample_configurations(checker, seed, samples):
        for pair in checker.colliding(q, active):
            counts[pair] += 1
    return counts


def state_collisions(urdf_xml: str, positions: dict[str, float], disabled: set[LinkPair]) -> set[LinkPair]:
    """Link pairs in collision in a configuration, leaving out the disabled ones."""
    checker = SelfCollision(urdf_xml)
    active = checker.only(set(checker.link_pairs) - disabled)
    return checker.colliding(checker.configuration(positions), active)


def header(matrix: Matrix) -> str:
    tally = ", ".join(f"{len(matrix.by_reason(r))} {r}" for r in REASONS)
    return f"""\
GENERATED by python -m forma_moveit_config.collision_matrix with seed {matrix.seed}, samples {matrix.samples}
from the description (forma_description, body male, 1.73 m); do not edit by hand (a test compares).
Groups, end effectors and named states: forma_moveit_config/semantic.py.
disable_collisions: {tally} (MoveIt Setup Assistant's reasons; Always = in collision in
>= {ALWAYS_FRACTION:.0%} of the samples, Never = never closer than {NEVER_MARGIN_M * 100:.0f} cm in
{matrix.samples} configurations sampled uniformly within the joint limits)."""


def generate_srdf(seed: int = DEFAULT_SEED, samples: int = DEFAULT_SAMPLES, urdf_xml: str | None = None) -> str:
    """The SRDF for the reference body, refusing a named state that is in self-collision."""
    urdf_xml = urdf_xml or expand_description()
    robot = RobotModel.from_urdf(urdf_xml)
    matrix = compute_matrix(urdf_xml, seed, samples)
    disabled = set(matrix.disabled)
    states = semantic.group_states(robot)
    stand = dict(states[0].joints)
    for state in states:  # alone (other joints at their defaults) and on top of the stand
        for context in ({}, stand):
            hit = state_collisions(urdf_xml, {**context, **dict(state.joints)}, disabled)
            if hit:
                raise MoveItConfigError(f"named state {state.name} ({state.group}) is in self-collision: {sorted(hit)}")
    rows = [(a, b, r) for (a, b), r in sorted(matrix.disabled.items())]
    return semantic.srdf_xml(robot, rows, header(matrix))


def committed_seed_and_samples(text: str) -> tuple[int, int]:
    """The --seed and --samples a committed SRDF was generated with (from its header)."""
    import re

    m = re.search(r"with seed (\d+), samples (\d+)", text)
    if not m:
        raise MoveItConfigError("the SRDF has no generator header naming its seed and samples")
    return int(m.group(1)), int(m.group(2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forma_moveit_config.collision_matrix", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=None, help=f"random seed (default: the committed one, else {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help=f"configurations to sample (default: the committed count, else {DEFAULT_SAMPLES})",
    )
    parser.add_argument("--output", default=str(srdf_path()), help="SRDF to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when --output differs")
    args = parser.parse_args(argv)
    seed, samples = DEFAULT_SEED, DEFAULT_SAMPLES
    try:
        with open(args.output) as f:
            seed, samples = committed_seed_and_samples(f.read())
    except (OSError, MoveItConfigError):
        pass
    seed = seed if args.seed is None else args.seed
    samples = samples if args.samples is None else args.samples
    start = time.monotonic()
    try:
        text = generate_srdf(seed, samples)
    except MoveItConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = time.monotonic() - start
    if args.check:
        try:
            with open(args.output) as f:
                same = f.read() == text
        except OSError:
            same = False
        print(
            f"{args.output}: {'up to date' if same else 'DIFFERS from'} seed {seed}, {samples} samples ({took:.1f} s)"
        )
        return 0 if same else 1
    with open(args.output, "w") as f:
        f.write(text)
    print(f"wrote {args.output}: seed {seed}, {samples} samples ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
