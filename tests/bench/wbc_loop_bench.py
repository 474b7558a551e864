"""wbc_loop_jitter_p99_us: the whole-body controller's 500 Hz loop over DDS with the sim running
(sim + safety supervisor + wbc processes, camera off, the sim at real time as in `sim_wbc`):
|interval - the sim's period in wall time| of the WBC's hardware/joint_commands as received by
another process, p99 over 10 s, beside the same figure for the joint_states it answers (the
loop's input, the baseline). wbc_loop_answered_share: the share of joint_states the WBC answered
(on 2 cores it answers the newest and skips the rest; it integrates by the robot time)."""

from __future__ import annotations

import pathlib
import tempfile
import time

import numpy as np
import yaml
from sensor_msgs.msg import JointState

from forma_interfaces.msg import WbcStatus
from tests.integration.ros_helpers import LaunchedDeployment, RosProbe

DOMAIN_ID = 54  # the wbc tests' domain: never runs beside tests/integration/test_wbc_dds.py
REAL_TIME_FACTOR = 1.0
PERIOD_S = 0.002 / REAL_TIME_FACTOR  # one control period in wall time
SIM = {"world": "empty", "camera.rate_hz": 0.0, "real_time_factor": REAL_TIME_FACTOR}
SUPERVISOR = {"auto_stand": True, "pose": "stand_balanced"}


def _deployment(tmp: pathlib.Path) -> str:
    spec = {
        "name": "wbc_loop_bench",
        "use_sim_time": True,
        "hosts": {
            "local": {
                "processes": [
                    {"name": "sim", "nodes": [{"node": "sim", "parameters": SIM}]},
                    {"name": "safety", "nodes": [{"node": "safety_supervisor", "parameters": SUPERVISOR}]},
                    {"name": "control", "nodes": [{"node": "wbc", "parameters": {"pose": "stand_balanced"}}]},
                ]
            }
        },
    }
    (tmp / "deployments").mkdir()
    path = tmp / "deployments" / "wbc_loop_bench.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def _jitter_us(arrivals: list[float]) -> float:
    dt = np.diff(np.array(arrivals))
    return float(np.percentile(np.abs(dt - PERIOD_S), 99) * 1e6)


def bench_wbc_loop(seconds: float = 10.0) -> dict:
    from tests.bench.run_bench import figure

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-wbc-loop-"))
    with LaunchedDeployment(_deployment(tmp), DOMAIN_ID, tmp / "logs"), RosProbe(DOMAIN_ID, name="loop") as probe:
        status = probe.collect(WbcStatus, "wbc/status", keep=1)
        probe.wait_for(lambda: status and status[-1].active, 120, "the WBC active")
        commands, states = [], []
        answered, published = set(), set()

        def on_command(m):
            commands.append(time.monotonic())
            answered.add((m.header.stamp.sec, m.header.stamp.nanosec))

        def on_state(m):
            states.append(time.monotonic())
            published.add((m.header.stamp.sec, m.header.stamp.nanosec))

        probe.node.create_subscription(JointState, "hardware/joint_commands", on_command, 10)
        probe.node.create_subscription(JointState, "joint_states", on_state, 10)
        time.sleep(seconds)
        active = status[-1].active
        ticks = [s.tick_time_us for s in status]
    if not active or len(commands) < 100:
        raise RuntimeError(f"the WBC stopped during the bench ({len(commands)} commands)")
    return {
        "wbc_loop_jitter_p99_us": figure(
            _jitter_us(commands),
            "us",
            _jitter_us(states),
            f"|interval - {PERIOD_S * 1e3:.2f} ms| (sim at {REAL_TIME_FACTOR} x real time) of "
            f"hardware/joint_commands at another process over {seconds:.0f} s "
            f"({len(commands) / seconds:.0f} Hz received); baseline: the joint_states it answers; last tick "
            f"{ticks[-1]:.0f} us",
            True,
        ),
        "wbc_loop_answered_share": figure(
            round(len(answered & published) / max(len(published), 1), 3),
            "",
            None,
            f"joint_states answered by a command with its stamp ({len(published)} published in {seconds:.0f} s)",
        ),
    }
