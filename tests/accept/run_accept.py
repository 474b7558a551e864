"""`make accept`: run the acceptance trials, print a table, write build/accept.json.

Each trial's entry names the commit and machine that ran it and the seeds it drew (trials run on
their own replace their entry, so entries may come from different commits: docs/RESULTS.md says
which). A trial that raises is recorded as failed with the error and the others still run; the
run exits 1 when any trial failed a criterion or broke.

python -m tests.accept.run_accept              # every trial
python -m tests.accept.run_accept stand_60s    # some trials
python -m tests.accept.run_accept tasks --seeds 2000-2019 --instructions FILE   # trials that take them
python -m tests.accept.run_accept vla --seeds 5000-5019 --model build/vla/model/policy.onnx
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
import sys
import time
import traceback

from tests.accept.registry import OPTIONS, SEEDS_USED, TRIALS, Figure, compact_seeds
from tests.support.provenance import stamp

TRIAL_MODULES = [
    "tests.accept.trials_foundation",
    "tests.accept.trials_perception",
    "tests.accept.trials_wbc",
    "tests.accept.trials_safety",
    "tests.accept.trials_hands",
    "tests.accept.trials_robot_grasp",
    "tests.accept.trials_tasks",
    "tests.accept.trials_vla",
    "tests.accept.trials_walk",
    "tests.accept.trials_record",
    "tests.accept.trials_planning",
]


def parse_seeds(text: str) -> list[int]:
    """"2000-2019" or "1,5,9" or "7"."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


def take_options(argv: list[str]) -> list[str]:
    """--seeds A-B, --instructions FILE and --model FILE into registry.OPTIONS; the trial names remain."""
    names, args = [], iter(argv)
    for arg in args:
        if arg == "--seeds":
            OPTIONS["seeds"] = parse_seeds(next(args, ""))
        elif arg == "--instructions":
            OPTIONS["instructions"] = next(args, "")
        elif arg == "--model":
            OPTIONS["model"] = next(args, "")
        else:
            names.append(arg)
    return names


OUT = pathlib.Path("build/accept.json")


def main(argv: list[str]) -> int:
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    for module in TRIAL_MODULES:
        importlib.import_module(module)
    argv = take_options(argv)
    names = argv or list(TRIALS)
    unknown = [n for n in names if n not in TRIALS]
    if unknown:
        print(f"unknown trial(s) {', '.join(unknown)}; available: {', '.join(TRIALS)}", file=sys.stderr)
        return 2
    results = json.loads(OUT.read_text()) if OUT.exists() and argv else {"trials": {}}
    failed = []
    for name in names:
        t0 = time.monotonic()
        provenance = stamp()
        SEEDS_USED.clear()
        try:
            figures = TRIALS[name]()
        except Exception as exc:  # record it, run the rest
            traceback.print_exc()
            figures = {"error": Figure(f"{type(exc).__name__}: {exc}", "", "the trial runs to its end", False)}
        wall = time.monotonic() - t0
        passed = all(f.passed is not False for f in figures.values())
        results["trials"][name] = {
            "passed": passed,
            "wall_s": round(wall, 1),
            **provenance,
            "seeds": compact_seeds(SEEDS_USED) or None,
            "figures": {k: dataclasses.asdict(f) for k, f in figures.items()},
        }
        seeds_text = f", seeds {results['trials'][name]['seeds']}" if SEEDS_USED else ""
        if OPTIONS.get("seeds") and not SEEDS_USED:
            seeds_text = ", takes no seeds: --seeds ignored"
        print(f"\n{name}  ({'PASS' if passed else 'FAIL'}, {wall:.0f} s{seeds_text})")
        for key, f in figures.items():
            mark = {True: "ok", False: "FAIL", None: "  "}[f.passed]
            extra = f" [95% {f.interval[0]:g}-{f.interval[1]:g}]" if f.interval else ""
            extra += f" (criterion {f.criterion})" if f.criterion else ""
            note = f"  {f.note}" if f.note else ""
            print(f"  {mark:4s} {key:40s} {f.value!s:>12} {f.unit}{extra}{note}")
        if not passed:
            failed.append(name)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    print(f"\nwrote {OUT}; {len(names) - len(failed)}/{len(names)} trials passed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
