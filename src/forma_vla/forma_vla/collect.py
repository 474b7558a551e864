"""Demonstrations from the task expert: `forma vla collect --seeds A-B --out DIR`.

Each seed is one episode on the deterministic lockstep harness (forma_tasks.tabletop): the seed's
layout, the seed's looks (forma_vla.appearance: cup colours, light, table and floor colours, the
camera's pose), an instruction drawn from the training paraphrases below, run by forma_tasks' skills
on the deployed nodes' cores (whole-body control, the hands, perception on rendered frames). While
it runs, every 1 / fps of robot time: the head camera's image (rendered as the sim node renders it,
resized to the dataset's size as the vla node resizes it), the joints, and the action the robot is
at (forma_vla.present; the hands' synergies read from what the hands were commanded, since a
closed hand's joints stop at the object). Only episodes the judge (simulator truth) calls a success
are written; the dataset (forma_vla.dataset) is regenerated from its seeds, never committed.
"""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys
import time

import numpy as np

from forma_vla.action_space import HAND, PALM, SIDES
from forma_vla.appearance import ALL_COLOURS, CUPS, TRAIN_CUP_COLOURS, Appearance, apply, draw
from forma_vla.dataset import DatasetWriter, Episode
from forma_vla.lockstep import base_rotation
from forma_vla.policy import INSTRUCTION_DIM, VELOCITY_SUFFIX, StateReader, resize_image
from forma_vla.present import PresentAction, synergies_from_joints

LEG_WORDS = ("hip", "knee", "ankle", "toe")
HOLD_AFTER_S = 0.5  # recorded after the skill ends: the policy learns to stay
# The training paraphrases ({o}: the object as "<colour> <noun>": a cup is "cup" or "mug"). The
# held-out phrasings of the evaluation (data/eval_instructions.yaml, tests/accept/data) are none of these.
PARAPHRASES = {
    "pick": ("pick up the {o}", "grab the {o}", "take the {o}", "please pick the {o} up",
             "get the {o} off the table", "lift the {o}", "can you pick up the {o}", "take hold of the {o}",
             "grasp the {o}", "pick up that {o}", "raise the {o}", "i want you to pick up the {o}"),
    "point": ("point at the {o}", "point to the {o}", "please point at the {o}", "show me the {o} with your finger",
              "can you point at the {o}", "point your finger at the {o}", "which one is the {o}, point at it",
              "indicate the {o} by pointing"),
    "wave": ("wave", "wave at me", "wave hello", "wave your hand", "give a wave", "please wave",
             "wave goodbye", "can you wave", "wave to me", "greet me with a wave"),
}
PICKED = CUPS  # what the expert picks in the demonstrations; it points at any object (colours name all six)
NOUNS = {"cup": ("cup", "mug"), "box": ("box",), "ball": ("ball",)}
SKILL_SHARE = {"pick": 0.5, "point": 0.25, "wave": 0.25}
SKILL_SECONDS = {"pick": 20.0, "point": 12.0, "wave": 10.0}  # a policy's episode on the same skill


def state_names(joint_names) -> tuple[str, ...]:
    """What the policy reads: every joint but the legs' (balance is whole-body control's), its
    position and its velocity (which way a swinging hand is going: a position alone cannot say)."""
    upper = [n for n in joint_names if not any(w in n for w in LEG_WORDS)]
    return tuple(upper) + tuple(n + VELOCITY_SUFFIX for n in upper)


@dataclasses.dataclass(frozen=True)
class Assignment:
    """What one seed asks: the instruction, what it names, how the scene looks."""

    seed: int
    skill: str
    text: str
    slots: dict
    appearance: Appearance

    def item(self) -> dict:
        return {"text": self.text, "skill": self.skill, "slots": dict(self.slots)}


def assign(seed: int, cup_colours: tuple[str, ...] = TRAIN_CUP_COLOURS, skills: tuple[str, ...] = tuple(SKILL_SHARE),
           paraphrases: dict[str, tuple[str, ...]] = PARAPHRASES) -> Assignment:
    """The seed's skill (by SKILL_SHARE among `skills`), cup, wording and looks."""
    rng = np.random.default_rng([seed, 0x5C111])
    share = np.array([SKILL_SHARE[s] for s in skills])
    skill = str(rng.choice(skills, p=share / share.sum()))
    appearance = draw(seed, cup_colours)
    template = str(rng.choice(paraphrases[skill]))
    slots: dict = {}
    if "{o}" in template:
        body = str(rng.choice(sorted(PICKED if skill == "pick" else appearance.object_colour)))
        colour, label = appearance.object_colour[body], body.rsplit("_", 1)[1]
        slots = {"object": label, "color": colour}
        template = template.format(o=f"{colour} {rng.choice(NOUNS[label])}")
    return Assignment(seed, skill, template, slots, appearance)


class Recorder:
    """A lockstep controller at `fps` that records the observation and the action the robot is at."""

    def __init__(self, robot, image_size: tuple[int, int], names: tuple[str, ...]) -> None:
        from forma_description.frames import RobotFrames

        self.robot, self.image_size = robot, tuple(image_size)
        sim = robot.sim
        joint_names = list(sim.robot.joint_names)
        self.state = StateReader(names, joint_names)
        self.present = PresentAction.standing(sim.robot, RobotFrames(sim.robot.urdf_xml))
        self.joint_names = joint_names
        self.images: list[np.ndarray] = []
        self.states: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    def __call__(self, sim) -> None:
        rgb, _ = self.robot.camera.render(sim.data)  # the head camera perception renders, as the sim node's
        self.images.append(resize_image(rgb, self.image_size))
        q = sim.joint_positions()
        self.states.append(self.state(q, sim.joint_velocities()).astype(np.float32))
        action = self.present(self.joint_names, q, base_rotation(sim))
        for side in SIDES:
            hand, ctrl, _ = self.robot.hands[side]
            if ctrl.targets is not None:  # what the hand was told: a grasp's fingers stop at the object
                action[HAND[side]] = synergies_from_joints(ctrl.targets, hand)
        self.actions.append(action.astype(np.float32))

def demonstrate(a: Assignment, fps: float, image_size: tuple[int, int]):
    """Run the expert on one assignment; (TaskRun, Episode of the recording)."""
    from forma_tasks.tabletop import run_task

    recorders: list[Recorder] = []

    def record(robot) -> None:
        names = state_names(robot.sim.robot.joint_names)
        recorder = Recorder(robot, image_size, names)
        robot.harness.add_controller("recorder", fps, recorder)
        recorders.append(recorder)

    run = run_task(a.seed, a.item(), appearance=lambda sim: apply(a.appearance, sim), on_robot=record,
                   hold_after_s=HOLD_AFTER_S)
    rec = recorders[0]
    info = {"seed": a.seed, "skill": a.skill, "slots": a.slots, "appearance": dataclasses.asdict(a.appearance),
            "expert": run.message, "judged": run.judged, "duration_s": round(run.duration_s, 2)}
    return run, Episode(a.text, rec.images, rec.states, rec.actions, info)


PALM_NOISE_M = 0.02  # the largest amplitude of the palms' drift in a replay
# a pick's grasp fails on 5 mm of drift near the cup (measured): its replays go unperturbed
NOISE_SKILLS = ("wave", "point")
PALM_POSITIONS = np.r_[PALM["left"].start : PALM["left"].start + 3, PALM["right"].start : PALM["right"].start + 3]


def perturbed(actions: np.ndarray, fps: float, seed: int) -> np.ndarray:
    """The actions with the palms' positions drifting off them smoothly (a sum of slow sines, an
    amplitude up to PALM_NOISE_M drawn per episode), so that the replay visits states beside the
    expert's path while its labels stay the expert's: the policy learns the way back (as DART does)
    instead of meeting its own small errors for the first time at run time."""
    rng = np.random.default_rng([seed, 0xDA27])
    t = np.arange(len(actions))[:, None] / fps
    amplitude = rng.uniform(0.0, PALM_NOISE_M)
    drift = np.zeros((len(actions), len(PALM_POSITIONS)))
    for _ in range(3):
        period = rng.uniform(1.0, 4.0, len(PALM_POSITIONS))
        drift += np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi, len(PALM_POSITIONS))) / 3.0
    out = np.array(actions, float)
    out[:, PALM_POSITIONS] += amplitude * drift
    return out


def through_action_path(a: Assignment, expert: Episode, fps: float, image_size: tuple[int, int]):
    """The expert's actions (perturbed for NOISE_SKILLS: palms drifting by up to PALM_NOISE_M) replayed as chunks
    through what the vla node does with them (forma_vla.lockstep) on the same seed, observed as a
    policy would observe them: (judged success, judged text, Episode of the replay's images and
    joints labelled with the expert's own actions).

    Why: the action path (streamed palm, gaze and torso targets; synergy hands) moves the robot a
    little differently from the expert's own skills. A policy trained on the expert's observations
    sees, from its first step on, joints it never saw (measured: a wrist 5 rad/s off 0.1 s in) and
    drifts away from what it learned; trained on the replay's, it sees what its own actions make."""
    from forma_control.lockstep_stand import fallen
    from forma_tasks.lockstep import LockstepRobot
    from forma_tasks.tabletop import set_up
    from forma_vla.action_space import within_limits
    from forma_vla.lockstep import LockstepPolicy, Replay

    actions = np.asarray([within_limits(x) for x in expert.actions], np.float32)
    noisy = perturbed(actions, fps, a.seed) if a.skill in NOISE_SKILLS else actions
    executed = np.asarray([within_limits(x) for x in noisy], np.float32)
    ep = set_up(a.seed, a.item(), appearance=lambda sim: apply(a.appearance, sim))
    robot = LockstepRobot(ep.sim, ep.harness, ep.wbc, seed=a.seed)
    names = state_names(ep.sim.robot.joint_names)
    recorder = Recorder(robot, image_size, names)
    robot.harness.add_controller("recorder", fps, recorder)
    driver = LockstepPolicy(robot, Replay(executed, fps, names, image_size), np.zeros(INSTRUCTION_DIM),
                            camera_hz=fps)
    ep.harness.run((len(actions) - 0.5) / fps)
    achieved, judged = ep.judge()
    achieved = achieved and not fallen(ep.sim) and driver.log.refusals == 0
    if driver.log.refusals:
        judged += f"; {driver.log.refusals} refused ({driver.log.refused[0]})"
    driver.close()
    robot.close()
    n = min(len(actions), len(recorder.images))
    info = {**expert.info, "through_action_path": True, "replay_judged": judged,
            "palm_noise_m": round(float(np.abs(executed - actions)[:, PALM_POSITIONS].max()), 4)}
    return achieved, judged, Episode(a.text, recorder.images[:n], recorder.states[:n], list(actions[:n]), info)


def git_commit() -> str:
    """The checkout's commit ('+dirty' with uncommitted changes), for the dataset's provenance;
    'unknown' where this runs from an install outside a checkout."""
    try:
        cwd = pathlib.Path.cwd()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = head.stdout.strip()
    return (commit + ("+dirty" if dirty.stdout.strip() else "")) if commit else "unknown"


def collect(seeds, out: pathlib.Path | str, fps: float = 10.0, image_size: tuple[int, int] = (80, 60),
            cup_colours: tuple[str, ...] = TRAIN_CUP_COLOURS, skills: tuple[str, ...] = tuple(SKILL_SHARE),
            log=print, replay: bool = True) -> dict:
    """Run the expert on every seed and write its successful episodes; a summary. With `replay`
    the observations are those of the expert's actions replayed through the action path
    (through_action_path), kept where the replay succeeds too."""
    from forma_sim.simulation import build_simulation

    seeds = list(seeds)
    names = state_names(build_simulation(world="tabletop").robot.joint_names)
    writer = DatasetWriter(out, fps, image_size, names, provenance={
        "made_by": "forma vla collect", "commit": git_commit(), "seeds": [seeds[0], seeds[-1]] if seeds else [],
        "cup_colours": list(cup_colours), "skills": list(skills), "fps": fps, "image_size": list(image_size),
        "observations": "replayed through the action path" if replay else "the expert's",
    })
    kept, tried, t0 = 0, 0, time.perf_counter()
    failures: list[str] = []
    for i, seed in enumerate(seeds):
        a = assign(seed, cup_colours, skills)
        run, episode = demonstrate(a, fps, image_size)
        tried += 1
        ok, judged = run.achieved and not run.fell, run.judged
        if not ok:
            failures.append(f"seed {seed} {a.text!r}: {run.message} [truth: {run.judged}]")
        elif replay:
            ok, judged, episode = through_action_path(a, episode, fps, image_size)
            if not ok:
                failures.append(f"seed {seed} {a.text!r}: the expert succeeded, its replay did not [truth: {judged}]")
        if ok:
            writer.add(episode)
            kept += 1
        elapsed = time.perf_counter() - t0
        left = elapsed / (i + 1) * (len(seeds) - i - 1)
        log(f"[{i + 1}/{len(seeds)}] seed {seed} {a.text!r}: {'kept' if ok else 'dropped'}"
            f" ({len(episode)} frames, {judged}); {kept} kept, {elapsed / 60:.1f} min, ~{left / 60:.1f} min left")
    return {"tried": tried, "kept": kept, "frames": writer.frames, "failures": failures}


def parse_seeds(text: str) -> range:
    """"A-B" (inclusive) or "A"."""
    try:
        first, _, last = text.partition("-")
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise ValueError(f"seeds {text!r}: A-B (inclusive) or A") from None
    if hi < lo:
        raise ValueError(f"seeds {text!r}: the last is before the first")
    return range(lo, hi + 1)


def parse_image_size(text: str) -> tuple[int, int]:
    """"WxH" in pixels, each 8..640."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"image size {text!r}: WxH in pixels, e.g. 80x60") from None
    if not (8 <= width <= 640 and 8 <= height <= 640):
        raise ValueError(f"image size {text!r}: each side 8..640 px")
    return width, height


def main_collect(args) -> int:
    skills = tuple(args.skills.split(",")) if args.skills else tuple(SKILL_SHARE)
    unknown = [s for s in skills if s not in SKILL_SHARE]
    if unknown:
        raise ValueError(f"skills {unknown}: the expert demonstrates {', '.join(SKILL_SHARE)}")
    colours = tuple(args.cup_colours.split(",")) if args.cup_colours else TRAIN_CUP_COLOURS
    summary = collect(parse_seeds(args.seeds), args.out, args.fps, parse_image_size(args.image_size), colours, skills,
                      log=lambda line: print(line, flush=True), replay=not args.expert_observations)
    print(f"wrote {summary['kept']} of {summary['tried']} episodes ({summary['frames']} frames) to {args.out}")
    for line in summary["failures"]:
        print(f"  dropped: {line}", file=sys.stderr)
    return 0 if summary["kept"] else 1


def add_arguments(p) -> None:
    p.add_argument("--seeds", required=True, help="A-B: one episode per seed (its layout, looks, instruction)")
    p.add_argument("--out", required=True, help="directory of the new dataset (must not hold one)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second of robot time (divides 500)")
    # a quarter of the camera's 320x240: resizing by a whole factor costs the node 0.08 ms (96x72: 0.37)
    p.add_argument("--image-size", default="80x60", help="WxH of the stored images")
    p.add_argument("--skills", default="", help=f"comma-separated subset of {','.join(SKILL_SHARE)}")
    p.add_argument("--expert-observations", action="store_true",
                   help="record what the expert's own skills make the robot see, not its actions replayed "
                        "through the vla action path (the default, what a policy's actions make it see)")
    p.add_argument("--cup-colours", default="", help=f"the cups' colours (default {','.join(TRAIN_CUP_COLOURS)}; "
                   f"any of {','.join(ALL_COLOURS)})")
