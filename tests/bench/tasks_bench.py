"""Tasks speed figures (issue 18) on the lockstep harness: task_pick_success and task_pick_cycle_s
(instruction to standing up holding the cup, median, robot time) over a few seeds of the tasks
trial's layouts (the statistics are `make accept` tasks), and task_parse_ms (instruction to skill
and arguments, median over the held-out paraphrases) beside the dialogue's intent classification
alone on the same texts (the encoder's cost, which parsing cannot go below)."""

from __future__ import annotations

import contextlib
import pathlib
import statistics
import time

import yaml

SEEDS = range(3000, 3006)
HELD_OUT = pathlib.Path(__file__).parents[1] / "unit" / "data" / "intent_paraphrases.yaml"
CUPS = ({"object": "cup", "color": "red"}, {"object": "cup", "color": "blue"})


def bench_tasks() -> dict:
    from forma_tasks.errors import TaskError
    from forma_tasks.tabletop import parser, run_task

    picks = [
        run_task(seed, {"text": f"pick up the {cup['color']} cup", "skill": "pick", "slots": cup})
        for seed, cup in zip(SEEDS, CUPS * len(SEEDS), strict=False)
    ]
    held = [r for r in picks if r.achieved]
    texts = [t for phrasings in yaml.safe_load(HELD_OUT.read_text()).values() for t in phrasings]
    p = parser()
    parse_ms, classify_ms = [], []
    for text in texts * 3:
        t0 = time.perf_counter()
        with contextlib.suppress(TaskError):  # refusals count: they are answers too
            p.parse(text)
        parse_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        p.dialogue.classify(text)
        classify_ms.append((time.perf_counter() - t0) * 1e3)
    parse, classify = statistics.median(parse_ms), statistics.median(classify_ms)
    failures = "; ".join(f"{r.text!r}: {r.message}" for r in picks if not r.achieved)
    return {
        "task_pick_success": {
            "value": round(len(held) / len(picks), 3), "unit": "", "baseline": None, "ratio": None,
            "note": f"{len(held)}/{len(picks)} picks of a cup from perception (seeds {SEEDS.start}-{SEEDS.stop - 1})"
            + (f"; {failures}" if failures else ""),
        },
        "task_pick_cycle_s": {
            "value": round(statistics.median(r.duration_s for r in held), 2) if held else None, "unit": "s",
            "baseline": None, "ratio": None,
            "note": "instruction to standing up holding it, median, robot time", "lower_is_better": True,
        },
        "task_parse_ms": {
            "value": round(parse, 2), "unit": "ms", "baseline": round(classify, 2), "ratio": round(parse / classify, 2),
            "note": f"median over {len(texts)} held-out paraphrases x3; baseline: the dialogue's intent "
            "classification alone (the MiniLM encoding)", "lower_is_better": True,
        },
    }
