"""`forma vla eval --model M --seeds A-B [--instructions FILE]`: a policy judged from simulator truth
on the lockstep harness, beside the task expert and an untrained network on the same episodes.

Every skill of the instructions file runs on every seed, its phrasings in turn (held-out phrasings:
none is a training paraphrase), the object a cup of the seed's colours — all six, so colour-cup
pairs training never showed (green and yellow cups) come up. Each episode: the seed's layout and
looks (forma_vla.appearance), the robot standing on whole-body control, the policy driving it for
the skill's time (forma_vla.collect.SKILL_SECONDS), then the tabletop judge (forma_tasks.tabletop:
pick = the cup 5 cm up and in a hand, point = the index ray within 5 cm, wave = 4 reversals above
the shoulder) and whether the robot fell.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys

import numpy as np
import yaml

from forma_vla.appearance import ALL_COLOURS, TRAIN_CUP_COLOURS, apply, draw
from forma_vla.collect import SKILL_SECONDS


def default_instructions() -> pathlib.Path:
    from forma_description.paths import share_dir

    return share_dir("forma_vla") / "eval_instructions.yaml"


def load_instructions(path: pathlib.Path | str) -> dict[str, list[str]]:
    """{skill: [phrasing, ...]} with {o} where the object goes; ValueError names what is wrong."""
    try:
        d = yaml.safe_load(pathlib.Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"instructions {path}: {exc}") from None
    if not isinstance(d, dict) or not d:
        raise ValueError(f"instructions {path}: a mapping skill -> list of phrasings expected")
    for skill, phrasings in d.items():
        if skill not in SKILL_SECONDS:
            known = ", ".join(SKILL_SECONDS)
            raise ValueError(f"instructions {path}: skill {skill!r}; the policy's skills are {known}")
        if not isinstance(phrasings, list) or not phrasings or not all(isinstance(p, str) for p in phrasings):
            raise ValueError(f"instructions {path}: {skill}: a non-empty list of phrasings expected")
        if skill in ("pick", "point") and not all("{o}" in p for p in phrasings):
            raise ValueError(f"instructions {path}: {skill}: every phrasing names the object as {{o}}")
    return d


@dataclasses.dataclass(frozen=True)
class EvalItem:
    seed: int
    skill: str
    text: str
    slots: dict
    unseen_pair: bool  # the cup's colour never a cup's in training

    def item(self) -> dict:
        return {"text": self.text, "skill": self.skill, "slots": dict(self.slots)}


def items(seeds, instructions: dict[str, list[str]]) -> list[EvalItem]:
    out = []
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng([seed, 0xE7A1])
        appearance = draw(seed, ALL_COLOURS)
        for skill, phrasings in instructions.items():
            text, slots, unseen = phrasings[i % len(phrasings)], {}, False
            if "{o}" in text:
                cup = str(rng.choice(sorted(appearance.cup_colour)))
                colour = appearance.cup_colour[cup]
                slots = {"object": "cup", "color": colour}
                unseen = colour not in TRAIN_CUP_COLOURS
                text = text.format(o=f"{colour} {rng.choice(['cup', 'mug'])}")
            out.append(EvalItem(seed, skill, text, slots, unseen))
    return out


@dataclasses.dataclass
class EvalRun:
    who: str
    item: EvalItem
    achieved: bool
    judged: str
    fell: bool
    note: str = ""


def run_policy(policy, e: EvalItem, embedding: np.ndarray, latency_s: float = 0.0, who: str = "policy") -> EvalRun:
    from forma_control.lockstep_stand import fallen
    from forma_tasks.lockstep import LockstepRobot
    from forma_tasks.tabletop import set_up
    from forma_vla.lockstep import LockstepPolicy

    ep = set_up(e.seed, e.item(), appearance=lambda sim: apply(draw(e.seed, ALL_COLOURS), sim))
    robot = LockstepRobot(ep.sim, ep.harness, ep.wbc, seed=e.seed)
    driver = LockstepPolicy(robot, policy, embedding, latency_s=latency_s)
    ep.harness.run(SKILL_SECONDS[e.skill])
    achieved, judged = ep.judge()
    log = driver.log
    driver.close()
    robot.close()
    note = f"{log.chunks} chunks, {log.refusals} refused" + (f" ({log.refused[0]})" if log.refused else "")
    return EvalRun(who, e, achieved, judged, fallen(ep.sim), note)


def run_expert(e: EvalItem) -> EvalRun:
    from forma_tasks.tabletop import run_task

    r = run_task(e.seed, e.item(), appearance=lambda sim: apply(draw(e.seed, ALL_COLOURS), sim))
    return EvalRun("expert", e, r.achieved, r.judged, r.fell, r.message)


def evaluate(model: pathlib.Path | str, seeds, instructions: dict[str, list[str]], expert: bool = True,
             untrained: bool = True, latency_s: float = 0.0, log=print) -> dict:
    from forma_face.minilm import MiniLM
    from forma_tasks.errors import TaskError
    from forma_tasks.tabletop import parser
    from forma_vla.instructions import policy_text
    from forma_vla.torch_policy import load_policy, untrained_like

    policy = load_policy(model)
    baseline = untrained_like(model) if untrained else None
    encoder = MiniLM()
    plan = items(seeds, instructions)
    runs: list[EvalRun] = []
    for k, e in enumerate(plan):
        try:  # a model trained on parsed instructions is told them parsed (forma_vla.instructions)
            told = policy_text(policy.signature, e.text, parser())
        except TaskError as exc:
            told = e.text
            log(f"seed {e.seed} {e.text!r}: the parser cannot read it ({exc}); the policy is told the words")
        embedding = encoder.encode([told])[0]
        mine = [run_policy(policy, e, embedding, latency_s)]
        if expert:
            mine.append(run_expert(e))
        if baseline is not None:
            mine.append(run_policy(baseline, e, embedding, latency_s, who="untrained"))
        runs += mine
        log(f"[{k + 1}/{len(plan)}] seed {e.seed} {e.text!r}: " + "; ".join(
            f"{r.who} {'ok' if r.achieved else 'failed'}{' FELL' if r.fell else ''} ({r.judged})" for r in mine))
    return report(runs, policy)


def report(runs: list[EvalRun], policy) -> dict:
    out: dict = {"skills": {}, "fell": {}, "infer": {}}
    whos = sorted({r.who for r in runs}, key=["policy", "expert", "untrained"].index)
    for skill in sorted({r.item.skill for r in runs}):
        row = {}
        for who in whos:
            mine = [r for r in runs if r.who == who and r.item.skill == skill]
            row[who] = {"success": sum(r.achieved for r in mine), "runs": len(mine)}
            unseen = [r for r in mine if r.item.unseen_pair]
            if unseen:
                row[who]["unseen_pairs"] = {"success": sum(r.achieved for r in unseen), "runs": len(unseen)}
            row[who]["failures"] = [f"seed {r.item.seed} {r.item.text!r}: {r.judged}; {r.note}"
                                    for r in mine if not r.achieved][:10]
        if "expert" in row and row["expert"]["success"]:
            row["policy_to_expert"] = round(row["policy"]["success"] / row["expert"]["success"], 3)
        out["skills"][skill] = row
    for who in whos:
        out["fell"][who] = sum(r.fell for r in runs if r.who == who)
    return out


def print_report(out: dict, file=sys.stdout) -> None:
    whos = [w for w in ("policy", "expert", "untrained") if w in out["fell"]]
    print(f"{'skill':8s} " + " ".join(f"{w:>14s}" for w in whos) + "  policy/expert  unseen colour-cup pairs",
          file=file)
    for skill, row in out["skills"].items():
        cells = " ".join(_cell(row[w]) for w in whos)
        ratio = f"{row['policy_to_expert']:13.2f}" if "policy_to_expert" in row else f"{'-':>13s}"
        unseen = row["policy"].get("unseen_pairs")
        pairs = f"{unseen['success']}/{unseen['runs']}" if unseen else "-"
        print(f"{skill:8s} {cells}  {ratio}  {pairs}", file=file)
    print("fell: " + ", ".join(f"{w} {n}" for w, n in out["fell"].items()), file=file)


def _cell(d: dict) -> str:
    return f"{d['success']:>5d}/{d['runs']:<3d} {d['success'] / max(1, d['runs']):4.0%}"


def main_eval(args) -> int:
    from forma_vla.collect import parse_seeds

    instructions = load_instructions(args.instructions or default_instructions())
    out = evaluate(args.model, parse_seeds(args.seeds), instructions, expert=not args.no_expert,
                   untrained=not args.no_untrained, latency_s=args.latency,
                   log=lambda line: print(line, flush=True))
    print_report(out)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="policy.onnx or policy.pt")
    p.add_argument("--seeds", required=True, help="A-B: seeds never used in training")
    p.add_argument("--instructions", default="", help="YAML {skill: [phrasings with {o}]} (default: the held-out set)")
    p.add_argument("--latency", type=float, default=0.0, help="robot seconds from image to chunk")
    p.add_argument("--no-expert", action="store_true", help="skip the task expert's runs")
    p.add_argument("--no-untrained", action="store_true", help="skip the untrained network's runs")
    p.add_argument("--out", default="", help="write the report as JSON here")

