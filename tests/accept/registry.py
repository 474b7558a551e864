"""Trial registry and result format of `make accept` (build/accept.json).

A trial is a function returning {figure_name: Figure}; later issues add trial modules and list
them in run_accept.TRIAL_MODULES. Each figure records whether it meets its criterion (None when it
is a baseline or a measurement without one), and its 95 % interval where the trial has one (rates
through `rate`: Wilson; medians through `median_interval`: order statistics). A trial that takes
`--seeds` draws them through `seeds(default)`, which also records the seeds it ran on for
build/accept.json and docs/RESULTS.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

TRIALS: dict[str, Callable[[], dict]] = {}
# run_accept's options for the trials that take them: seeds (a list of ints), instructions, model (paths)
OPTIONS: dict = {}
# the seeds the running trial drew through seeds(); run_accept empties it before each trial
SEEDS_USED: list[int] = []


@dataclasses.dataclass
class Figure:
    value: float | bool | str
    unit: str = ""
    criterion: str = ""
    passed: bool | None = None
    baseline: float | None = None
    note: str = ""
    interval: tuple[float, float] | None = None  # 95 % interval of value, same unit (a rate: as a share 0..1)


def trial(name: str):
    def register(fn):
        TRIALS[name] = fn
        return fn

    return register


def seeds(default: Iterable[int], record: bool = True) -> list[int]:
    """The seeds given on the command line (`--seeds`), else the trial's default; recorded as used
    unless the trial derives the seeds it really runs from them (then it calls note_seeds)."""
    chosen = list(OPTIONS.get("seeds") or default)
    if record:
        note_seeds(chosen)
    return chosen


def note_seeds(values: Iterable[int]) -> None:
    """Record seeds a trial ran on, for build/accept.json."""
    SEEDS_USED.extend(s for s in values if s not in SEEDS_USED)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a rate k/n (sound at k = 0 and k = n, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # to 3 decimals, outward: the printed interval never claims more than the exact one
    return max(0.0, math.floor((centre - half) * 1000) / 1000), min(1.0, math.ceil((centre + half) * 1000) / 1000)


def median_interval(values: Iterable[float], digits: int = 3) -> tuple[float, float] | None:
    """Distribution-free 95 % interval of the median: the order statistics x(j) and x(n+1-j) with
    j the largest rank for which P(Binomial(n, 1/2) < j) <= 2.5 %. None below 6 values (no such j)."""
    xs = sorted(values)
    n = len(xs)
    below, j = 0.0, 0  # below = P(Binomial(n, 1/2) < j + 1)
    while True:
        below += math.comb(n, j) / 2**n
        if below > 0.025:
            break
        j += 1
    if j == 0:
        return None
    return round(xs[j - 1], digits), round(xs[n - j], digits)


def rate(k: int, n: int, criterion: str = "", passed: bool | None = None, **fields) -> Figure:
    """A success count as the figure "k/n" with its Wilson interval."""
    return Figure(f"{k}/{n}", "", criterion, passed, interval=wilson(k, n), **fields)


def compact_seeds(values: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "1-3,7": the form `--seeds` takes."""
    ordered = sorted(set(values))
    runs: list[str] = []
    start = prev = None
    for s in ordered + [None]:
        if start is not None and s == prev + 1:
            prev = s
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = s
    return ",".join(runs)
