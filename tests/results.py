"""`make results`: docs/RESULTS.md from build/accept.json (`make accept`) and build/bench.json
(`make bench`) — every figure with its value, 95 % interval, baseline, ratio, goal, seeds, and the
commit and machine that measured it, so a reader can re-measure any of them. Nothing is typed in by
hand: re-run the trials and benches, then this.

python -m tests.results [--accept build/accept.json] [--bench build/bench.json] [--soak build/soak.json]
                       [--out docs/RESULTS.md]

The soak (`make soak`: `make run` left standing, 5 x 10 minutes) is added when build/soak.json exists.

A figure without a recorded interval says so ("none recorded"), except a success count "k/n", whose
Wilson interval follows from the count itself. Exits 1 when neither input exists.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import re
import sys

from tests.accept.registry import wilson
from tests.support.provenance import commit as checked_out_commit

NO_INTERVAL = "none recorded"
NOT_RECORDED = "not recorded"
NOTE_CHARS = 240  # longer notes (failure lists) are cut; the JSON files keep them whole
_COUNT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _number(x: float) -> str:
    """A figure's number as printed: up to 4 significant digits, whole numbers without '.0'."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if not math.isfinite(x):
        return "not measured (NaN)"
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.0f}"


def short_commit(commit: str | None) -> str:
    """The first 10 hex digits, keeping '+dirty'; 'not recorded' for files from before provenance."""
    if not commit:
        return NOT_RECORDED
    head, plus, rest = commit.partition("+")
    return head[:10] + plus + rest if re.fullmatch(r"[0-9a-f]{40}", head) else commit


def machine_text(machine: dict | None) -> str:
    """'2 cores (2 online), AMD EPYC, Linux ...'."""
    if not machine:
        return NOT_RECORDED
    cores = f"{machine.get('cores', '?')} cores"
    if machine.get("cores_online") not in (None, machine.get("cores")):
        cores += f" ({machine['cores_online']} online)"
    return ", ".join(str(p) for p in (cores, machine.get("cpu_model"), machine.get("system")) if p)


def as_share(value: object) -> float | None:
    """A number, or a count "k/n" as its share; None for anything else (text, booleans)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    m = _COUNT.match(str(value))
    if m and int(m.group(2)) > 0:
        return int(m.group(1)) / int(m.group(2))
    return None


def interval_text(figure: dict) -> str:
    """The recorded 95 % interval, the Wilson interval of a count "k/n", or 'none recorded'."""
    interval = figure.get("interval")
    if interval is None:
        m = _COUNT.match(str(figure.get("value")))
        if not m or isinstance(figure.get("value"), bool):
            return NO_INTERVAL
        interval = wilson(int(m.group(1)), int(m.group(2)))
    lo, hi = interval
    return f"{_number(lo)} – {_number(hi)}"


def ratio_text(figure: dict) -> str:
    """value / baseline (recorded by the bench, else computed); '' without a baseline."""
    if figure.get("ratio") is not None:
        return _number(figure["ratio"])
    value, baseline = as_share(figure.get("value")), figure.get("baseline")
    if value is None or not isinstance(baseline, int | float) or isinstance(baseline, bool) or not baseline:
        return ""
    return _number(value / baseline)


def bench_goal_text(figure: dict) -> str:
    goal = figure.get("goal")
    if goal is None:
        return ""
    return ("<= " if figure.get("lower_is_better") else ">= ") + _number(goal)


def verdict_text(passed: bool | None) -> str:
    return {True: "met", False: "**FAILED**", None: ""}[passed]


def _note(text: str) -> str:
    """A note on one line, cut at NOTE_CHARS."""
    text = " ".join(str(text).split())
    return text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


COLUMNS = ["figure", "value", "unit", "95 % interval", "baseline", "ratio", "goal", "goal met", "commit", "note"]


def _figure_row(key: str, f: dict, goal: str, commit: str) -> str:
    """One figure's table row; goal is the trial's criterion or the bench's goal."""
    baseline = "" if f.get("baseline") is None else _number(f["baseline"])
    return _row(
        [
            key,
            _number(f.get("value")),
            f.get("unit", ""),
            interval_text(f),
            baseline,
            ratio_text(f),
            goal,
            verdict_text(f.get("passed")),
            commit,
            _note(f.get("note", "")),
        ]
    )


def _header() -> list[str]:
    return [_row(COLUMNS), _row(["---"] * len(COLUMNS))]


def accept_section(accept: dict | None, source: str) -> list[str]:
    """One table per trial, each headed by its commit, machine, seeds and verdict."""
    lines = ["## Acceptance trials (`make accept`)", ""]
    if accept is None:
        return lines + [f"No {source}: run `make accept` (or `python -m tests.accept.run_accept TRIAL ...`).", ""]
    lines += [
        f"From `{source}`. Run one trial on other seeds with "
        "`python -m tests.accept.run_accept TRIAL --seeds A-B` (the trials that take seeds).",
        "",
    ]
    for name, trial in accept.get("trials", {}).items():
        commit = short_commit(trial.get("commit"))
        seeds = trial.get("seeds") or "not seeded from the command line (fixed in the trial)"
        if "seeds" not in trial:
            seeds = NOT_RECORDED
        verdict = "passed" if trial.get("passed") else "**FAILED**"
        lines += [
            f"### {name}: {verdict}",
            "",
            f"Commit `{commit}`; machine: {machine_text(trial.get('machine'))}; "
            f"started {trial.get('started', NOT_RECORDED)}; {trial.get('wall_s', '?')} s; seeds: {seeds}.",
            "",
            *_header(),
        ]
        for key, f in trial.get("figures", {}).items():
            lines.append(_figure_row(key, f, f.get("criterion", ""), commit))
        lines.append("")
    return lines


def _measured_table(run: dict, source: str, about: str) -> list[str]:
    """A run's provenance line and its figures against their goals (bench and soak)."""
    commit = short_commit(run.get("commit"))
    lines = [
        f"From `{source}`: commit `{commit}`; machine: {machine_text(run.get('machine'))}; "
        f"started {run.get('started', NOT_RECORDED)}; {about}",
        "",
        *_header(),
    ]
    lines += [_figure_row(key, f, bench_goal_text(f), commit) for key, f in run.get("figures", {}).items()]
    return lines + [""]


def bench_section(bench: dict | None, source: str) -> list[str]:
    """One table for the bench run (benches are not seeded: each is one run on this machine)."""
    lines = ["## Benches (`make bench`)", ""]
    if bench is None:
        return lines + [f"No {source}: run `make bench` (or `make bench BENCH=bench_x`).", ""]
    lines += _measured_table(
        bench,
        source,
        "seeds: none (timings of one run each). A baseline is the same quantity measured in the same run "
        "by a simpler path; where there is none the cell is empty and the note says why.",
    )
    for name, why in bench.get("failed", {}).items():
        lines.append(f"- **bench {name} broke** (no figures): {_cell(why)}")
    return lines + ([""] if bench.get("failed") else [])


def soak_section(soak: dict | None, source: str) -> list[str]:
    """The soak's figures and one line per start (`make soak`)."""
    lines = ["## Soak (`make soak`)", ""]
    if soak is None:
        return lines + [f"No {source}: run `make soak` (5 starts of `forma launch sim`, 10 minutes each).", ""]
    lines += _measured_table(soak, source, f"deployment `{soak.get('deployment', '?')}`.")
    for run in soak.get("runs", []):
        what = "; ".join(run.get("incidents", [])) or "no incident"
        lines.append(
            f"- start {run.get('run')}: {'clean' if run.get('clean') else '**not clean**'}, "
            f"{run.get('robot_s', '?')} s of robot time in {run.get('wall_s', '?')} s, "
            f"{run.get('imu_samples', '?')} IMU samples, tilt mean {run.get('mean_tilt_deg', '?')} / "
            f"max {run.get('max_tilt_deg', '?')} deg; {_cell(what)}"
        )
    return lines + [""]


def render(
    accept: dict | None,
    bench: dict | None,
    accept_source: str,
    bench_source: str,
    head: str,
    soak: dict | None = None,
    soak_source: str = "build/soak.json",
) -> str:
    """The whole of docs/RESULTS.md."""
    commits = {short_commit(t.get("commit")) for t in (accept or {}).get("trials", {}).values()}
    for run in (bench, soak):
        if run is not None:
            commits.add(short_commit(run.get("commit")))
    lines = [
        "# Results",
        "",
        "Generated by `make results` (`python -m tests.results`) from the last `make accept` and "
        "`make bench`; do not edit by hand. Every figure names the commit that produced it "
        f"(this file was generated at `{short_commit(head)}`"
        + ("" if commits <= {short_commit(head)} else "; some figures come from other commits")
        + "). Intervals are 95 %: Wilson for success counts, "
        "as recorded by the trial otherwise; 'none recorded' where the trial has none.",
        "",
        *accept_section(accept, accept_source),
        *bench_section(bench, bench_source),
        *soak_section(soak, soak_source),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _load(path: pathlib.Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.results", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accept", type=pathlib.Path, default=pathlib.Path("build/accept.json"))
    parser.add_argument("--bench", type=pathlib.Path, default=pathlib.Path("build/bench.json"))
    parser.add_argument("--soak", type=pathlib.Path, default=pathlib.Path("build/soak.json"))
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("docs/RESULTS.md"))
    args = parser.parse_args(argv)
    accept, bench, soak = _load(args.accept), _load(args.bench), _load(args.soak)
    if accept is None and bench is None:
        print(f"neither {args.accept} nor {args.bench} exists: run `make accept` and `make bench`", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = render(accept, bench, str(args.accept), str(args.bench), checked_out_commit(), soak, str(args.soak))
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
