"""The shipped `sim_wbc` deployment over real DDS: the safety supervisor stands the robot up and
hands the body to whole-body control, which keeps it standing still (ground truth read by this
test only), with no hold or fall on the way; Ctrl-C leaves nothing behind."""

from __future__ import annotations

import math

import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Imu

from forma_interfaces.msg import SafetyState, WbcStatus
from tests.integration.ros_helpers import LaunchedDeployment, RosProbe, free_port, stamp_s

pytestmark = pytest.mark.integration
DOMAIN_ID = 59


def test_sim_wbc_deployment_stands_on_whole_body_control(tmp_path):
    params = [f"console.port={free_port()}", "sim.world=empty"]
    with (
        LaunchedDeployment("sim_wbc", DOMAIN_ID, tmp_path / "logs", params) as deployment,
        RosProbe(DOMAIN_ID) as probe,
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        wbc = probe.collect(WbcStatus, "wbc/status", keep=1)
        truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", keep=1)
        imu = probe.collect(Imu, "imu/data", keep=500)
        probe.wait_for(lambda: wbc and wbc[-1].active, 120, "wbc/status active (safety/state ACTIVE)")
        t0 = stamp_s(truth[-1])
        probe.wait_for(lambda: stamp_s(truth[-1]) > t0 + 4.0, 120, "4 s of sim time on the WBC")
        modes = [m.mode_name for m in safety]
        assert safety[-1].mode == SafetyState.ACTIVE and wbc[-1].active, (modes, wbc[-1].inactive_reason)
        assert "HOLD" not in modes and "FAULT" not in modes, [m.reason for m in safety]
        assert truth[-1].pose.position.z > 0.9
        # standing still: the IMU reads gravity, no shaking
        accels = [math.hypot(m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z) for m in imu]
        assert max(abs(a - 9.81) for a in accels) < 1.0, f"IMU up to {max(accels):.1f} m/s^2"
    assert deployment.exit_code == 0, deployment.output[-3000:]
    assert deployment.leftovers() == []
