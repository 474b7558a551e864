"""The tasks' tabletop scenario on the deterministic lockstep harness, judged from simulator truth:
the robot stands on whole-body control in the tabletop world (spawned in stand_balanced, as the sim
deployment), the objects placed at random per seed, and one instruction runs — through forma_tasks
(the task expert: parser, skills, runner) or through a learned policy (forma_vla). What happened is
judged from simulator truth, never from the robot's own report:

- pick: the object rose >= 5 cm and sits within 12 cm of the palm;
- place (after a pick: `text` is a list, run in order, the last judged): the object rests on the
  table, upright (within 10 deg), within 3 cm of where it stood before the pick;
- wave: the palm above the shoulder, >= 2 oscillations (>= 4 reversals of >= 4 cm sideways);
- point: the index finger's ray (knuckle to tip) passes within 5 cm of the object's centre;
- look: the head camera's optical axis within 5 deg of the object's centre;
- never fallen.

Layouts (per seed): every object moves +-8 cm sideways and +-3 cm in depth from its place in
LAYOUT (2 cm apart at least) and turns at random; LAYOUT puts the cups where the arms reach (the
depth band in front of a shoulder that the crouched arm reaches: world x 0.34-0.40 m with the feet
at x = 0). Which body an instruction names is found as perception would name it (its class from the
body's name, its colour from its rendered colour), so a scene whose objects were recoloured is
judged by their new colours.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib
import tempfile
import time
from collections.abc import Callable

import mujoco
import numpy as np
import yaml

from forma_control.lockstep_stand import fallen, wbc_stand
from forma_face.dialogue import Dialogue, load_dialogue_config
from forma_face.interaction_node import default_intents_path
from forma_face.minilm import MiniLM
from forma_perception.objects import colour_name
from forma_sim.scene import worlds_dir
from forma_tasks.errors import TaskError
from forma_tasks.instructions import InstructionParser
from forma_tasks.lockstep import LockstepRobot
from forma_tasks.runner import TaskRunner

JUDGE_HZ = 25.0  # simulator truth sampled for the wave and hand-over judges

# world x, y of each object before the seed's jitter (the table's front edge is at x = 0.30 m)
LAYOUT = {
    "red_cup": (0.37, 0.22),
    "blue_cup": (0.37, -0.22),
    "green_box": (0.42, 0.0),
    "orange_ball": (0.56, 0.12),
    "yellow_box": (0.64, -0.02),
    "purple_ball": (0.55, -0.16),
}
JITTER_Y_M, JITTER_X_M = 0.08, 0.03
# the radius of each object's footprint on the table (a box's half diagonal) [m]
FOOTPRINT_M = {"red_cup": 0.038, "blue_cup": 0.038, "green_box": 0.043, "orange_ball": 0.034,
               "yellow_box": 0.048, "purple_ball": 0.035}
CLEARANCE_M = 0.02
PERSON_JITTER_M = 0.15


@dataclasses.dataclass
class TaskRun:
    text: str
    skill: str  # what the parser chose ("" refused)
    expected_skill: str
    success_reported: bool
    message: str
    achieved: bool  # judged from simulator truth
    judged: str  # what the judge measured
    fell: bool
    duration_s: float  # robot time
    parse_ms: float


def load_instructions(path: pathlib.Path | str) -> list[dict]:
    """YAML list of {text, skill, slots: {object, color}}; text may be a list (run in order)."""
    items = yaml.safe_load(pathlib.Path(path).read_text())
    if not isinstance(items, list) or not all(isinstance(i, dict) and "text" in i and "skill" in i for i in items):
        raise ValueError(f"{path}: expected a YAML list of {{text, skill, slots}}")
    return items


def place_objects(sim, seed: int) -> None:
    """The seed's layout: each object jittered around LAYOUT and turned, none closer to another
    than their footprints and CLEARANCE_M (overlapping objects were thrown over by the contact)."""
    rng = np.random.default_rng(seed)
    m, d = sim.model, sim.data
    placed: list[tuple[np.ndarray, float]] = []
    for body, (x, y) in LAYOUT.items():
        radius = FOOTPRINT_M[body]
        for _ in range(100):
            xy = np.array([x + rng.uniform(-JITTER_X_M, JITTER_X_M), y + rng.uniform(-JITTER_Y_M, JITTER_Y_M)])
            if all(np.linalg.norm(xy - other) >= radius + r + CLEARANCE_M for other, r in placed):
                break
        else:
            raise RuntimeError(f"seed {seed}: no room for {body} around {x, y}")
        placed.append((xy, radius))
        adr = m.joint(body).qposadr[0]
        d.qpos[adr : adr + 2] = xy
        yaw = rng.uniform(-math.pi, math.pi)
        d.qpos[adr + 3 : adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    mujoco.mj_forward(m, d)


class Watch:
    """Sim truth sampled at every wait of the skill: the palms and shoulders (for the wave)."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.samples: dict[str, list[tuple[np.ndarray, float]]] = {"left": [], "right": []}

    def sample(self) -> None:
        m, d = self.sim.model, self.sim.data
        for side in ("left", "right"):
            palm = d.site_xpos[m.site(f"{side}_hand").id].copy()
            shoulder_z = float(d.xpos[m.body(f"{side}_shoulder_pitch_link").id][2])
            self.samples[side].append((palm, shoulder_z))

    def waved(self) -> tuple[bool, str]:
        best = (0, "")
        for side, samples in self.samples.items():
            up = [p[1] for p, z in samples if p[2] > z]
            reversals, direction, extreme = 0, 0, up[0] if up else 0.0
            for y in up:
                if direction >= 0 and y < extreme - 0.04:
                    reversals += direction > 0
                    direction, extreme = -1, y
                elif direction <= 0 and y > extreme + 0.04:
                    reversals += direction < 0
                    direction, extreme = 1, y
                elif (direction >= 0 and y > extreme) or (direction < 0 and y < extreme):
                    extreme = y
            best = max(best, (reversals, f"{side} palm above the shoulder, {reversals} reversals"))
        return best[0] >= 4, best[1]


class Pull:
    """The person takes the object: once the robot waits for it to be taken, a 30 N pull toward
    the person for 0.3 s (a hand taking a cup), and when it left the hand (>= 8 cm from the palm)."""

    FORCE_N, DURATION_S, GONE_M = 30.0, 0.3, 0.08

    def __init__(self, sim, body: str | None, person) -> None:
        self.sim, self.body, self.person = sim, body, person
        self.t_pull: float | None = None
        self.reach_m = 0.0  # how far the palm was out toward the person when pulled [m]
        self.t_gone: float | None = None

    def on_phase(self, phase: str, progress: float) -> None:
        if phase != "waiting for you to take it" or self.person is None or self.body is None or self.t_pull:
            return
        m, d = self.sim.model, self.sim.data
        centre = d.xpos[m.body(self.body).id]
        toward = np.array([*self.person, centre[2]]) - centre
        toward[2] = 0.0
        toward /= np.linalg.norm(toward)
        self.sim.apply_wrench(self.body, self.FORCE_N * toward, (0.0, 0.0, 0.0), self.DURATION_S)
        self.t_pull = self.sim.time
        shoulders = [d.xpos[m.body(f"{s}_shoulder_pitch_link").id] for s in ("left", "right")]
        self.reach_m = max(float((centre - sh)[:2] @ toward[:2]) for sh in shoulders)

    def sample(self) -> None:
        if self.t_pull is None or self.t_gone is not None:
            return
        m, d = self.sim.model, self.sim.data
        centre = d.xpos[m.body(self.body).id]
        if min(float(np.linalg.norm(centre - d.site_xpos[m.site(f"{s}_hand").id])) for s in ("left", "right")) > (
            self.GONE_M
        ):
            self.t_gone = self.sim.time


def judge(sim, skill: str, body: str | None, start: dict[str, np.ndarray], watch: Watch, pull: Pull
           ) -> tuple[bool, str]:
    m, d = sim.model, sim.data
    if skill == "wave":
        return watch.waved()
    if skill == "hand_over":
        if pull.t_pull is None:
            return False, "never waited for the person to take it"
        if pull.t_gone is None:
            return False, "still in the hand after the pull"
        held_s = pull.t_gone - pull.t_pull
        ok = held_s < 2.0 and pull.reach_m > 0.25
        return ok, f"out {pull.reach_m * 100:.0f} cm toward the person, let go {held_s:.1f} s after the pull"
    if body is None:
        return False, "no object named"
    centre = d.xpos[m.body(body).id].copy()
    if skill == "pick":
        rise = float(centre[2] - start[body][2])
        palms = [d.site_xpos[m.site(f"{s}_hand").id] for s in ("left", "right")]
        near = min(float(np.linalg.norm(centre - p)) for p in palms)
        return rise >= 0.05 and near < 0.12, f"rose {rise * 100:.1f} cm, {near * 100:.1f} cm from a palm"
    if skill == "place":
        moved = float(np.linalg.norm(centre[:2] - start[body][:2]))
        up = float(d.xmat[m.body(body).id].reshape(3, 3)[2, 2])
        resting = abs(float(centre[2] - start[body][2])) < 0.01
        ok = moved < 0.03 and up > math.cos(math.radians(10.0)) and resting
        tilt_deg = math.degrees(math.acos(min(1.0, up)))
        above = "" if resting else f", {(centre[2] - start[body][2]) * 100:+.1f} cm off the table"
        return ok, f"{moved * 100:.1f} cm from where it stood, tilted {tilt_deg:.0f} deg{above}"
    if skill == "point":
        misses = []
        for side in ("left", "right"):
            knuckle = d.xpos[m.body(f"{side}_index_proximal").id]
            tip = d.site_xpos[m.site(f"{side}_index_tip").id] if _has_site(m, f"{side}_index_tip") else d.xpos[
                m.body(f"{side}_index_distal").id]
            ray = (tip - knuckle) / np.linalg.norm(tip - knuckle)
            along = max(0.0, float((centre - tip) @ ray))
            misses.append(float(np.linalg.norm(centre - (tip + along * ray))))
        return min(misses) < 0.05, f"index ray {min(misses) * 100:.1f} cm from the object"
    if skill == "look":
        cam = m.camera("head_camera").id
        axis = -d.cam_xmat[cam].reshape(3, 3)[:, 2]  # MuJoCo cameras look along -z
        to = centre - d.cam_xpos[cam]
        angle = math.degrees(math.acos(float(np.clip(axis @ to / np.linalg.norm(to), -1.0, 1.0))))
        return angle < 5.0, f"camera axis {angle:.1f} deg from the object"
    return False, f"no judge for {skill!r}"


def _has_site(m, name: str) -> bool:
    try:
        m.site(name)
        return True
    except KeyError:
        return False


@functools.cache
def tabletop_with_person() -> str:
    """The tabletop world with the standing person of the people world (assets/person.xml, a mocap
    body the trial places): a world file written next to a link to the worlds' assets."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="forma_worlds_"))
    (directory / "assets").symlink_to(worlds_dir() / "assets")
    text = (worlds_dir() / "tabletop.xml").read_text()
    robot = '<include file="forma_robot.xml"/>'
    person = '\n  <include file="assets/person.xml"/>'
    (directory / "tabletop_person.xml").write_text(text.replace(robot, robot + person))
    return str(directory / "tabletop_person.xml")


def place_person(sim, xy: tuple[float, float]) -> None:
    """The person standing at xy (world), facing the robot."""
    m, d = sim.model, sim.data
    mocap = m.body("person").mocapid[0]
    yaw = math.atan2(-xy[1], -xy[0])
    d.mocap_pos[mocap] = (xy[0], xy[1], 0.0)
    d.mocap_quat[mocap] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    mujoco.mj_forward(m, d)


def world_object(sim, label: str | None, colour: str | None) -> str | None:
    """The world's body an instruction names by (class, colour), as perception names them: the
    class from the body's name (`red_cup` is a cup), the colour from its geom's colour now."""
    if not label or not colour:
        return None
    m = sim.model
    for body in LAYOUT:
        geom = m.body(body).geomadr[0]
        rgb = np.clip(m.geom_rgba[geom][:3] * 255.0, 0, 255).astype(np.uint8)[None]
        if body.rsplit("_", 1)[1] == label and colour_name(rgb) == colour:
            return body
    return None


@functools.cache
def parser() -> InstructionParser:
    """One parser (MiniLM loads once per process)."""
    return InstructionParser(Dialogue(load_dialogue_config(default_intents_path()), MiniLM()))


@dataclasses.dataclass
class Episode:
    """One instruction's scene, ready to run: the robot standing on whole-body control in the
    seed's layout, and the judge's samples of simulator truth (every 1 / JUDGE_HZ)."""

    seed: int
    item: dict
    sim: object
    harness: object
    wbc: object
    body: str | None  # the world's body the instruction names
    person: tuple[float, float] | None
    start: dict[str, np.ndarray]  # every object's position before the instruction
    watch: Watch
    pull: Pull

    def judge(self) -> tuple[bool, str]:
        return judge(self.sim, self.item["skill"], self.body, self.start, self.watch, self.pull)


def set_up(seed: int, item: dict, appearance: Callable[[object], None] | None = None) -> Episode:
    """A fresh robot on whole-body control in the seed's layout (and the person where `item` puts
    it, +-15 cm by seed), 1 s settled; `appearance(sim)` may recolour and relight the scene first."""
    person = item.get("person")
    sim, harness, wbc = wbc_stand(world=tabletop_with_person() if person else "tabletop", pose="stand_balanced")
    place_objects(sim, seed)
    if appearance is not None:
        appearance(sim)
    if person:
        jitter = np.random.default_rng(seed + 7919).uniform(-PERSON_JITTER_M, PERSON_JITTER_M, 2)
        person = tuple(np.asarray(person, float) + jitter)
        place_person(sim, person)
    harness.run(1.0)
    slots = item.get("slots") or {}
    body = world_object(sim, slots.get("object"), slots.get("color"))
    start = {b: sim.data.xpos[sim.model.body(b).id].copy() for b in LAYOUT}
    watch, pull = Watch(sim), Pull(sim, body, person)

    def sample(_sim) -> None:
        watch.sample()
        pull.sample()

    harness.add_controller("judge", JUDGE_HZ, sample)
    return Episode(seed, item, sim, harness, wbc, body, person, start, watch, pull)


def run_task(seed: int, item: dict, appearance: Callable[[object], None] | None = None,
             on_robot: Callable[[LockstepRobot], None] | None = None, hold_after_s: float = 0.0) -> TaskRun:
    """One instruction run by the task expert on a fresh robot in the seed's layout.
    on_robot(robot) sees the lockstep robot before the instruction (e.g. to record it);
    hold_after_s of robot time run after the instruction, before the judge looks."""
    ep = set_up(seed, item, appearance)
    robot = LockstepRobot(ep.sim, ep.harness, ep.wbc, seed=seed)
    if on_robot is not None:
        on_robot(robot)
    texts = item["text"] if isinstance(item["text"], list) else [item["text"]]
    t0 = time.perf_counter()
    try:
        parsed = parser().parse(texts[-1])
    except TaskError:  # the runner reports the refusal below
        parsed = None
    parse_ms = (time.perf_counter() - t0) * 1e3
    runner = TaskRunner(robot, parser())
    duration = 0.0
    for text in texts:  # e.g. pick it up, then put it down: the last is judged
        outcome = runner.run(text, feedback=ep.pull.on_phase)
        duration += outcome.duration_s
        if not outcome.success:
            break
    ep.harness.run(hold_after_s)
    achieved, judged = ep.judge()
    robot.close()
    return TaskRun(
        " / ".join(texts), parsed.skill if parsed else "", item["skill"], outcome.success, outcome.message,
        achieved, judged, fallen(ep.sim), duration, parse_ms,
    )
