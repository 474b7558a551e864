"""docs/RESULTS.md (tests/results.py) and the exit codes of `make accept` / `make bench`, on small
fixture results: what a reader of the figures relies on — every figure with its commit, machine,
seeds and interval (or an honest 'none recorded'), failures visible, and a failing figure or a
broken bench or trial failing the command."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from tests import results
from tests.accept import registry, run_accept
from tests.bench import run_bench

ACCEPT_COMMIT = "a" * 40
BENCH_COMMIT = "b" * 40 + "+dirty"
MACHINE = {"cores": 2, "cores_online": 2, "cpu_model": "AMD EPYC 7B13", "system": "Linux 6.1, Python 3.11.2"}


def fixture_accept() -> dict:
    return {
        "trials": {
            "walk": {
                "passed": False,
                "wall_s": 12.0,
                "commit": ACCEPT_COMMIT,
                "machine": MACHINE,
                "started": "2026-12-07T10:00:00+0000",
                "seeds": "6000-6002",
                "figures": {
                    "straight_no_fall": {"value": "2/3", "unit": "", "criterion": "3/3", "passed": False,
                                         "baseline": None, "note": "seed 6002 fell", "interval": [0.208, 0.939]},
                    "turn_no_fall": {"value": "3/3", "unit": "", "criterion": "3/3", "passed": True,
                                     "baseline": None, "note": ""},
                    "walk_to_error_max_m": {"value": 0.04, "unit": "m", "criterion": "<= 0.1", "passed": True,
                                            "baseline": None, "note": "worst | of three"},
                },
            },
            "wbc_push_recovery": {
                "passed": True,
                "wall_s": 30.0,
                "commit": ACCEPT_COMMIT,
                "machine": MACHINE,
                "started": "2026-12-07T10:01:00+0000",
                "seeds": None,
                "figures": {
                    "impulse_front_Ns": {"value": 18.75, "unit": "N s", "criterion": ">= 15", "passed": True,
                                         "baseline": 7.5, "note": ""},
                },
            },
        }
    }  # fmt: skip


def fixture_bench() -> dict:
    return {
        "commit": BENCH_COMMIT,
        "started": "2026-12-07T11:00:00+0000",
        "machine": MACHINE,
        "figures": {
            "wbc_tick_p99_us": run_bench.figure(2400.0, "us", note="goal <= 2000", lower_is_better=True, goal=2000.0),
            "sim_rtf_full": run_bench.figure(2.0, "x real time", baseline=4.0),
        },
        "failed": {"bench_bus": "RuntimeError: the emulator never answered"},
    }


@pytest.fixture
def page(tmp_path) -> str:
    accept, bench, out = tmp_path / "accept.json", tmp_path / "bench.json", tmp_path / "RESULTS.md"
    accept.write_text(json.dumps(fixture_accept()))
    bench.write_text(json.dumps(fixture_bench()))
    assert results.main(["--accept", str(accept), "--bench", str(bench), "--out", str(out)]) == 0
    return out.read_text()


def rows(page: str) -> dict[str, list[str]]:
    """Table rows by figure name, as cells."""
    out = {}
    for line in page.splitlines():
        if line.startswith("| ") and not line.startswith("| figure") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            out[cells[0]] = cells
    return out


def cell(row: list[str], column: str) -> str:
    return row[results.COLUMNS.index(column)]


def test_every_figure_appears_with_the_commit_that_produced_it(page):
    table = rows(page)
    for trial in fixture_accept()["trials"].values():
        for name in trial["figures"]:
            assert cell(table[name], "commit") == ACCEPT_COMMIT[:10]
    for name in fixture_bench()["figures"]:
        assert cell(table[name], "commit") == "b" * 10 + "+dirty"


def test_machine_seeds_and_start_of_each_run_are_named(page):
    assert page.count("2 cores, AMD EPYC 7B13") == 3  # two trials and the bench run
    assert "seeds: 6000-6002" in page
    assert "seeds: not seeded from the command line" in page  # wbc_push_recovery draws none
    assert "2026-12-07T11:00:00+0000" in page


def test_intervals_recorded_derived_from_a_count_or_said_to_be_missing(page):
    table = rows(page)
    assert cell(table["straight_no_fall"], "95 % interval") == "0.208 – 0.939"  # as recorded
    assert cell(table["turn_no_fall"], "95 % interval") == "0.438 – 1"  # Wilson of 3/3
    assert cell(table["walk_to_error_max_m"], "95 % interval") == results.NO_INTERVAL
    assert cell(table["wbc_tick_p99_us"], "95 % interval") == results.NO_INTERVAL


def test_baseline_ratio_and_goal_in_separate_columns(page):
    table = rows(page)
    push = table["impulse_front_Ns"]
    assert (cell(push, "baseline"), cell(push, "ratio"), cell(push, "goal")) == ("7.5", "2.5", ">= 15")
    tick = table["wbc_tick_p99_us"]
    assert (cell(tick, "baseline"), cell(tick, "goal"), cell(tick, "goal met")) == ("", "<= 2000", "**FAILED**")
    assert (cell(table["sim_rtf_full"], "ratio"), cell(table["sim_rtf_full"], "goal")) == ("0.5", "")


def test_failures_are_visible(page):
    assert "### walk: **FAILED**" in page
    assert "### wbc_push_recovery: passed" in page
    assert "bench bench_bus broke" in page and "the emulator never answered" in page
    assert "worst \\| of three" in page  # a note's '|' does not break the table


def test_files_from_before_provenance_say_not_recorded(tmp_path):
    old = fixture_accept()
    for trial in old["trials"].values():
        for key in ("commit", "machine", "seeds", "started"):
            del trial[key]
    text = results.render(old, None, "accept.json", "bench.json", ACCEPT_COMMIT)
    assert "Commit `not recorded`; machine: not recorded" in text
    assert "seeds: not recorded" in text
    assert "No bench.json: run `make bench`" in text


def test_no_input_is_an_error(tmp_path):
    assert results.main(["--accept", str(tmp_path / "a"), "--bench", str(tmp_path / "b"),
                         "--out", str(tmp_path / "R.md")]) == 1  # fmt: skip
    assert not (tmp_path / "R.md").exists()


def test_bench_figure_against_its_goal():
    assert run_bench.figure(3.0, "ms", lower_is_better=True, goal=4.0)["passed"] is True
    assert run_bench.figure(5.0, "ms", lower_is_better=True, goal=4.0)["passed"] is False
    assert run_bench.figure(29.0, "fps", goal=30.0)["passed"] is False
    assert run_bench.figure(5.0, "ms")["passed"] is None  # no goal: a measurement
    assert run_bench.figure(math.nan, "ms")["passed"] is False  # nothing measured
    # a bench that writes its dict by hand gets the same fields
    raw = run_bench.complete({"value": 4.0, "unit": "ms", "baseline": 2.0})
    assert raw["ratio"] == 2.0 and raw["goal"] is None and raw["passed"] is None


def _run_bench_with(monkeypatch, tmp_path, bench) -> tuple[int, dict]:
    monkeypatch.setattr(run_bench, "BENCHES", [bench])
    monkeypatch.setattr(run_bench, "OUT", tmp_path / "bench.json")
    code = run_bench.main([])
    return code, json.loads((tmp_path / "bench.json").read_text())


def test_make_bench_fails_on_a_missed_goal_or_a_broken_bench(monkeypatch, tmp_path):
    def bench_good():
        return {"x_ms": run_bench.figure(1.0, "ms", lower_is_better=True, goal=4.0)}

    def bench_slow():
        return {"x_ms": run_bench.figure(9.0, "ms", lower_is_better=True, goal=4.0)}

    def bench_broken():
        raise RuntimeError("no answer")

    code, written = _run_bench_with(monkeypatch, tmp_path, bench_good)
    assert code == 0 and written["machine"]["cores"] >= 1 and written["commit"]
    assert _run_bench_with(monkeypatch, tmp_path, bench_slow)[0] == 1
    code, written = _run_bench_with(monkeypatch, tmp_path, bench_broken)
    assert code == 1 and "no answer" in written["failed"]["bench_broken"]


def test_make_accept_fails_on_a_missed_criterion_or_a_broken_trial(monkeypatch, tmp_path):
    monkeypatch.setattr(run_accept, "TRIAL_MODULES", [])
    monkeypatch.setattr(run_accept, "OUT", tmp_path / "accept.json")
    options, trials = {}, {}  # this test's own: the real registry stays as it was
    for module in (registry, run_accept):
        monkeypatch.setattr(module, "OPTIONS", options)
        monkeypatch.setattr(module, "TRIALS", trials)

    def seeded() -> dict:
        drawn = registry.seeds(range(10, 13))
        return {"ok": registry.rate(len(drawn), len(drawn), "all", True)}

    def missed() -> dict:
        return {"x": registry.Figure(1.0, "m", "<= 0.5", False)}

    def broken() -> dict:
        raise ValueError("the sim diverged")

    trials.update({"t_seeded": seeded, "t_missed": missed, "t_broken": broken})
    assert run_accept.main(["t_seeded", "--seeds", "5-7"]) == 0
    written = json.loads((tmp_path / "accept.json").read_text())["trials"]["t_seeded"]
    assert written["seeds"] == "5-7" and written["commit"] and written["machine"]["cpu_model"]
    assert written["figures"]["ok"]["interval"] == [0.438, 1.0]
    assert run_accept.main(["t_missed", "--seeds", "1-2"]) == 1
    # a trial that draws no seeds does not claim the ones given
    assert json.loads((tmp_path / "accept.json").read_text())["trials"]["t_missed"]["seeds"] is None
    options.clear()
    assert run_accept.main(["t_broken", "t_seeded"]) == 1  # the broken trial does not stop the others
    written = json.loads((tmp_path / "accept.json").read_text())["trials"]
    assert "the sim diverged" in written["t_broken"]["figures"]["error"]["value"]
    assert written["t_seeded"]["passed"] is True and written["t_seeded"]["seeds"] == "10-12"  # the default


def test_median_interval_is_the_order_statistics_and_absent_for_few_values():
    losses = [i / 100 for i in range(20, 0, -1)]  # 0.01 .. 0.20, unsorted
    assert registry.median_interval(losses) == (0.06, 0.15)  # ranks 6 and 15 of 20: >= 95 % coverage
    assert registry.median_interval(range(100)) == (39, 60)
    assert registry.median_interval([0.1, 0.2, 0.3, 0.4, 0.5]) is None  # 5 values cannot give 95 %
    figure = registry.Figure(0.3, "s", interval=registry.median_interval([0.1, 0.2, 0.3, 0.4, 0.5]))
    assert results.interval_text(dataclasses.asdict(figure)) == results.NO_INTERVAL


def test_the_soak_shows_each_start_and_a_start_that_was_not_clean():
    soak = {
        "commit": BENCH_COMMIT,
        "started": "2026-12-07T16:00:00+0000",
        "machine": {"cores": 2, "cores_online": 2, "cpu_model": "Test CPU", "system": "Linux"},
        "deployment": "sim",
        "runs": [
            {"run": 1, "clean": True, "wall_s": 600.0, "robot_s": 599.8, "imu_samples": 74900,
             "max_tilt_deg": 2.7, "mean_tilt_deg": 2.5, "incidents": []},
            {"run": 2, "clean": False, "wall_s": 600.0, "robot_s": 600.0, "imu_samples": 75000,
             "max_tilt_deg": 88.0, "mean_tilt_deg": 40.0, "incidents": ["FAULT: fall detected"]},
        ],
        "figures": {
            "soak_clean_runs": {"value": 1, "unit": "of 2", "goal": 2, "lower_is_better": False, "passed": False,
                                "note": "2 starts"},
        },
    }  # fmt: skip
    text = results.render(None, None, "accept.json", "bench.json", BENCH_COMMIT, soak, "soak.json")
    assert "## Soak (`make soak`)" in text
    assert "- start 1: clean, 599.8 s of robot time" in text
    assert "- start 2: **not clean**" in text and "FAULT: fall detected" in text
    row = next(line for line in text.splitlines() if line.startswith("| soak_clean_runs"))
    assert "**FAILED**" in row and ">= 2" in row
    assert "No soak.json" in results.render(None, None, "a", "b", BENCH_COMMIT, None, "soak.json")
