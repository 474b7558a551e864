"""Trial registry and result format of `make accept` (build/accept.json).

A trial is a function returning {figure_name: Figure}; later issues add trial modules and list
them in run_accept.TRIAL_MODULES. Each figure records whether it meets its criterion (None when it
is a baseline or a measurement without one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

TRIALS: dict[str, Callable[[], dict]] = {}
# run_accept's options for the trials that take them: seeds (a list of ints), instructions, model (paths)
OPTIONS: dict = {}


@dataclasses.dataclass
class Figure:
    value: float | bool | str
    unit: str = ""
    criterion: str = ""
    passed: bool | None = None
    baseline: float | None = None
    note: str = ""


def trial(name: str):
    def register(fn):
        TRIALS[name] = fn
        return fn

    return register
