"""`make soak`: the default deployment left standing as a user leaves it. `forma launch sim` is
started RUNS times and left MINUTES each (wall time), the console open in a headless Chromium,
while a separate rclpy client reads `imu/data` (the robot's tilt from its own IMU) and
`safety/state` (every mode the supervisor reports). A run is clean when, from the robot first
ACTIVE to the end of its window, the supervisor reported nothing but ACTIVE (no HOLD, no FAULT, no
e-stop) and the IMU stayed within 10 deg of upright.

python -m tests.bench.soak [--runs 5] [--minutes 10] [--deployment sim] [--out build/soak.json]

Writes {"commit", "started", "machine", "runs": [...], "figures": {...}} to build/soak.json (read
by `make results`) and exits 1 unless every run was clean. It takes RUNS x MINUTES plus about a
minute a run to start and stop: run it on an otherwise idle machine, as the acceptance does.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import tempfile
import threading
import time

from sensor_msgs.msg import Imu

from forma_common import qos
from forma_interfaces.msg import SafetyState
from tests.support.provenance import stamp
from tests.support.ros import LaunchedDeployment, RosProbe, free_port

DOMAIN_ID = 58
UPRIGHT_LIMIT_DEG = 10.0


class _TiltWatch:
    """The IMU's tilt from upright, kept as the worst seen and counted, sample by sample."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples = 0
        self.sum_tilt_deg = 0.0
        self.max_tilt_deg = 0.0
        self.first_stamp_s: float | None = None
        self.last_stamp_s = 0.0

    def on_imu(self, msg: Imu) -> None:
        q = msg.orientation
        # the body z axis's world z component: 1 - 2 (x^2 + y^2) for a unit quaternion
        cos_tilt = 1.0 - 2.0 * (q.x * q.x + q.y * q.y)
        tilt_deg = math.degrees(math.acos(max(-1.0, min(1.0, cos_tilt))))
        stamp_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self.lock:
            self.samples += 1
            self.sum_tilt_deg += tilt_deg
            self.max_tilt_deg = max(self.max_tilt_deg, tilt_deg)
            if self.first_stamp_s is None:
                self.first_stamp_s = stamp_s
            self.last_stamp_s = stamp_s

    def reset(self) -> None:
        with self.lock:
            self.samples, self.sum_tilt_deg, self.max_tilt_deg, self.first_stamp_s = 0, 0.0, 0.0, None


def soak_once(deployment: str, minutes: float, index: int) -> dict:
    """One start of `deployment`, left standing `minutes` of wall time with the console open."""
    from tests.support.browser import console_page

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-soak-"))
    port = free_port()
    tilt = _TiltWatch()
    with (
        LaunchedDeployment(deployment, DOMAIN_ID, tmp / "logs", [f"console.port={port}"]) as launched,
        RosProbe(DOMAIN_ID, name="soak") as probe,
        console_page(f"http://127.0.0.1:{port}/"),
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        probe.on_executor(probe.node.create_subscription, Imu, "imu/data", tilt.on_imu, qos.SENSORS)
        probe.wait_for(lambda: any(m.mode == SafetyState.ACTIVE for m in safety), 180, "the robot ACTIVE")
        with probe.lock:
            first_active = next(i for i, m in enumerate(safety) if m.mode == SafetyState.ACTIVE)
        tilt.reset()
        wall0 = time.monotonic()
        time.sleep(minutes * 60.0)
        wall_s = time.monotonic() - wall0
        with probe.lock:
            incidents = [f"{m.mode_name}: {m.reason}" for m in safety[first_active:] if m.mode != SafetyState.ACTIVE]
        with tilt.lock:
            robot_s = tilt.last_stamp_s - (tilt.first_stamp_s or tilt.last_stamp_s)
            run = {
                "run": index,
                "wall_s": round(wall_s, 1),
                "robot_s": round(robot_s, 1),
                "imu_samples": tilt.samples,
                "max_tilt_deg": round(tilt.max_tilt_deg, 2),
                "mean_tilt_deg": round(tilt.sum_tilt_deg / max(tilt.samples, 1), 2),
                "incidents": incidents,
            }
        launched.stop()
        run["leftover_processes"] = [p.pid for p in launched.leftovers()]
    run["clean"] = not incidents and run["max_tilt_deg"] <= UPRIGHT_LIMIT_DEG and run["imu_samples"] > 0
    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--deployment", default="sim")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("build/soak.json"))
    args = parser.parse_args(argv)
    if args.runs < 1 or not args.minutes > 0:
        parser.error("--runs must be at least 1 and --minutes positive")
    results: dict = {**stamp(), "deployment": args.deployment, "runs": []}
    for index in range(1, args.runs + 1):
        try:
            run = soak_once(args.deployment, args.minutes, index)
        except Exception as exc:  # a start that never stood is a failed run, the others still count
            run = {"run": index, "clean": False, "incidents": [f"{type(exc).__name__}: {exc}"]}
        results["runs"].append(run)
        print(f"[soak] run {index}/{args.runs}: {json.dumps(run)}", flush=True)
    clean = sum(r["clean"] for r in results["runs"])
    tilts = [r["max_tilt_deg"] for r in results["runs"] if "max_tilt_deg" in r]
    window = f"{args.runs} starts of `forma launch {args.deployment}`, {args.minutes:g} min each, console open"
    results["figures"] = {
        "soak_clean_runs": {
            "value": clean,
            "unit": f"of {args.runs}",
            "baseline": None,
            "ratio": None,
            "goal": args.runs,
            "lower_is_better": False,
            "passed": clean == args.runs,
            "note": f"{window}: no HOLD, FAULT or e-stop after the first ACTIVE, IMU within "
            f"{UPRIGHT_LIMIT_DEG:g} deg of upright",
        },
        "soak_max_tilt_deg": {
            "value": max(tilts) if tilts else float("nan"),
            "unit": "deg",
            "baseline": None,
            "ratio": None,
            "goal": None,
            "lower_is_better": True,
            "passed": None,
            "note": f"{window}: the worst IMU tilt from upright over every sample, read by a separate client",
        },
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"{clean}/{args.runs} clean runs; worst tilt {max(tilts) if tilts else 'n/a'} deg; wrote {args.out}")
    return 0 if clean == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
