"""`make run` as a new user sees it: the `sim` deployment as shipped, with the console open in a
headless Chromium (software WebGL, lowest priority), on the 2-core machine. The robot must stand
for a minute of robot time: no fall detected, no hold, whole-body control in charge throughout,
and simulator truth agrees (the pelvis stays at its height and upright; the IMU reads upright)."""

from __future__ import annotations

import math
import os
import pathlib

import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Imu

from forma_interfaces.msg import HardwareState, SafetyState, WbcStatus
from tests.support.browser import CHROMIUM, console_page
from tests.support.ros import LaunchedDeployment, RosProbe, free_port, stamp_s

pytestmark = pytest.mark.integration
STAND_S = 60.0  # robot time


def tilt_deg(q) -> float:
    """Angle of a body's z axis from the vertical, from its orientation quaternion."""
    return math.degrees(math.acos(max(-1.0, min(1.0, 1.0 - 2.0 * (q.x * q.x + q.y * q.y)))))


@pytest.mark.skipif(not pathlib.Path(CHROMIUM).exists(), reason="Debian's chromium is installed by tools/bootstrap.sh")
def test_the_default_deployment_stands_a_minute_with_the_console_open(tmp_path, domain_id):
    port = free_port()
    with (
        LaunchedDeployment("sim", domain_id, tmp_path / "logs", [f"console.port={port}"]) as deployment,
        RosProbe(domain_id, name="stand_watch") as probe,
        console_page(f"http://127.0.0.1:{port}/"),
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        wbc = probe.collect(WbcStatus, "wbc/status", keep=1)
        probe.wait_for(lambda: wbc and wbc[-1].active, 180, "whole-body control active (the robot stood up)")
        hardware = probe.collect(HardwareState, "hardware/state", depth=50, keep=8000)
        truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", depth=50, keep=4000)
        imu = probe.collect(Imu, "imu/data", depth=50, keep=8000)
        probe.wait_for(lambda: truth, 30, "the simulator's ground-truth pose")
        policies = {}
        for process in deployment.process_tree():
            cmdline = process.cmdline()
            if "--process" in cmdline:
                policies[cmdline[cmdline.index("--process") + 1]] = os.sched_getscheduler(process.pid)
        start, modes_seen = stamp_s(truth[-1]), len(safety)
        height0 = truth[-1].pose.position.z
        probe.wait_for(lambda: stamp_s(truth[-1]) >= start + STAND_S, STAND_S * 6, f"{STAND_S:.0f} s of robot time")
        with probe.lock:
            changes = [f"{m.mode_name}: {m.reason}" for m in safety[modes_seen:] if m.mode != SafetyState.ACTIVE]
            heights = [p.pose.position.z for p in truth if stamp_s(p) >= start]
            tilts = [tilt_deg(p.pose.orientation) for p in truth if stamp_s(p) >= start]
            imu_tilts = [tilt_deg(m.orientation) for m in imu if stamp_s(m) >= start]
            active = wbc[-1].active
            holds = [
                m for m in hardware if stamp_s(m) >= start and any(s != HardwareState.ACTIVE for s in m.stop_states)
            ]

        # the control processes SCHED_FIFO, the rest normal; where the privilege is missing, each
        # control process says so and how to allow it
        realtime = {name for name, policy in policies.items() if policy == os.SCHED_FIFO}
        refused = {name for name in policies if f"process {name} runs at normal priority" in deployment.output}
        assert realtime | refused == {"sim", "control", "safety", "hands"} and not realtime & refused, policies
        assert not changes, f"the supervisor left ACTIVE while the robot stood: {changes}"
        assert not holds, f"the hardware held or damped: {holds[0].reasons}"
        assert active, f"whole-body control stopped: {wbc[-1].inactive_reason}"
        assert min(heights) > height0 - 0.05, f"simulator truth: the pelvis sank to {min(heights):.3f} m"
        assert max(tilts) < 10.0, f"simulator truth: the pelvis tilted {max(tilts):.1f} deg"
        assert imu_tilts and max(imu_tilts) < 10.0, "the IMU read a tilted robot"
    assert deployment.exit_code == 0, deployment.output[-3000:]
