"""Acceptance trial of the tasks (issue 18): instructions in held-out phrasings
(tests/accept/data/task_instructions.yaml, or --instructions FILE) on seeds 2000-2019 (or --seeds):
every skill on every seed, its phrasings in turn, each on a fresh robot in the seed's layout
(forma_tasks.tabletop), judged from simulator truth. Criteria (issue 18): pick >= 90 %,
place >= 85 %, hand-over >= 80 %, wave, point, look >= 95 %; never fallen; every report matches
what happened; refusals within 2 s.

python -m tests.accept.run_accept tasks --seeds 2000-2019 --instructions my_phrasings.yaml
"""

from __future__ import annotations

import pathlib
import statistics

from forma_tasks.tabletop import load_instructions, run_task
from tests.accept.registry import OPTIONS, Figure, rate, seeds, trial

SEEDS = range(2000, 2020)
INSTRUCTIONS = pathlib.Path(__file__).parent / "data" / "task_instructions.yaml"
REQUIRED = {"pick": 0.90, "place": 0.85, "hand_over": 0.80, "wave": 0.95, "point": 0.95, "look": 0.95}
REFUSALS = ["pick up the unicorn", "fly to the moon", "pick up the green cup"]  # unknown, unserved, absent


@trial("tasks")
def tasks_trial() -> dict:
    chosen = seeds(SEEDS)
    items = load_instructions(OPTIONS.get("instructions") or INSTRUCTIONS)
    by_skill: dict[str, list[dict]] = {}
    for item in items:
        by_skill.setdefault(item["skill"], []).append(item)
    # every skill on every seed, its phrasings in turn
    runs = [run_task(seed, texts[i % len(texts)]) for i, seed in enumerate(chosen) for texts in by_skill.values()]
    figures: dict[str, Figure] = {}
    for skill in sorted({r.expected_skill for r in runs}):
        mine = [r for r in runs if r.expected_skill == skill]
        done = sum(r.achieved for r in mine)
        failures = "; ".join(f"{r.text!r}: {r.message} [truth: {r.judged}]" for r in mine if not r.achieved)
        need = REQUIRED.get(skill, 0.95)
        figures[f"{skill}_success"] = rate(done, len(mine), f">= {need:.0%}", done >= need * len(mine), note=failures)
    parsed = sum(r.skill == r.expected_skill for r in runs)
    figures["parsed_to_the_right_skill"] = rate(parsed, len(runs), "all", parsed == len(runs))
    honest = sum(r.success_reported == r.achieved for r in runs)
    lies = "; ".join(f"{r.text!r}: reported {r.message!r} [truth: {r.judged}]" for r in runs
                     if r.success_reported != r.achieved)
    figures["reports_match_truth"] = rate(honest, len(runs), "all", honest == len(runs), note=lies)
    figures["fell"] = Figure(sum(r.fell for r in runs), "runs", "0", not any(r.fell for r in runs))
    figures["task_parse_ms_median"] = Figure(round(statistics.median(r.parse_ms for r in runs), 1), "ms")
    picks = [r.duration_s for r in runs if r.expected_skill == "pick" and r.achieved]
    if picks:
        figures["task_pick_cycle_s_median"] = Figure(
            round(statistics.median(picks), 1), "s", note="instruction to standing up holding it (robot time)"
        )
    refused = [run_task(chosen[0], {"text": text, "skill": "refused"}) for text in REFUSALS]
    slow = [r for r in refused if r.success_reported or r.duration_s > 2.0 or r.fell]
    figures["refusals_within_2s"] = Figure(
        f"{len(refused) - len(slow)}/{len(refused)}", "", "all", not slow,
        note="; ".join(f"{r.text!r}: {r.message} ({r.duration_s:.1f} s)" for r in refused),
    )
    return figures
