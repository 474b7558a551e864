"""Whole-body control cost and robustness: the 500 Hz tick (state update + QP build + solve, full
model) on the lockstep harness while standing and reaching, the QP's share of it, and the push
impulse survived beside the joint-PD hold's, measured in the same run."""

from __future__ import annotations

import time

import numpy as np
import pinocchio as pin

PERIOD_US = 2000.0  # the 500 Hz control period: the tick's budget


def timed(fn, sink: list[float]):
    """fn, appending each call's wall time [us] to sink."""

    def wrapper(*args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            sink.append((time.perf_counter() - t0) * 1e6)

    return wrapper


def _timed_ticks(seconds: float = 4.0):
    from tests.support.scenarios import wbc_stand

    sim, harness, controller = wbc_stand()
    qp_us: list[float] = []
    tick_us: list[float] = []
    controller.qp.solve = timed(controller.qp.solve, qp_us)
    controller.tick = timed(controller.tick, tick_us)
    harness.run(0.5)
    palm = controller.reference_pose("right_hand")
    controller.set_hand_target("right", pin.SE3(palm.rotation, palm.translation + np.array([0.15, 0.0, 0.1])))
    harness.run(seconds)
    return np.array(tick_us[50:]), np.array(qp_us[50:])


def bench_wbc() -> dict:
    from tests.bench.run_bench import figure
    from tests.support.scenarios import PUSH_DIRECTIONS, largest_survived_impulse

    ticks, qp = _timed_ticks()
    out = {
        "wbc_tick_p50_us": figure(
            float(np.percentile(ticks, 50)), "us", note="half the 2 ms period; no same-run baseline",
            lower_is_better=True, goal=PERIOD_US / 2,
        ),
        "wbc_tick_p99_us": figure(
            float(np.percentile(ticks, 99)), "us",
            note="standing and reaching; goal: three quarters of the 2 ms period (issue 16); no same-run baseline",
            lower_is_better=True, goal=0.75 * PERIOD_US,
        ),
        "wbc_qp_share": figure(float(np.sum(qp) / np.sum(ticks)), "", note="solve time / tick time"),
    }
    wbc = {d: largest_survived_impulse(d, tolerance_ns=2.0, controller="wbc") for d in PUSH_DIRECTIONS}
    pd = {d: largest_survived_impulse(d, tolerance_ns=2.0, controller="pd") for d in PUSH_DIRECTIONS}
    worst = min(wbc, key=lambda d: wbc[d] / max(pd[d], 1e-9))
    out["push_recovery_impulse_Ns"] = figure(
        min(wbc.values()),
        "N s",
        min(pd.values()),
        f"min over directions, 0.2 s torso push; baseline joint-PD hold; worst ratio {worst} "
        f"{wbc[worst] / max(pd[worst], 1e-9):.2f}",
    )
    return out
