"""The shipped `sim_wbc` deployment over real DDS, the simulation at real time on this 2-core
machine: the safety supervisor stands the robot up and hands the body to whole-body control,
which keeps it standing still from the handover on (ground truth read by this test only), with no
hold or fall on the way; Ctrl-C leaves nothing behind."""

from __future__ import annotations

import math

import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Imu, JointState

from forma_interfaces.msg import SafetyState, WbcStatus
from tests.support.ros import LaunchedDeployment, RosProbe, free_port, stamp_s

pytestmark = pytest.mark.integration
HANDOVER_S = 0.25  # the handover from the stand-up ramp to the WBC [s sim time]
PROBE = "sim_wbc_probe"  # this test's node, one of the supervisor's commanders


def test_sim_wbc_deployment_stands_on_whole_body_control(tmp_path, domain_id):
    # The supervisor hands over ~1 s after the sim comes up, while the machine is busiest; this
    # probe's reader matched the sim's IMU writer up to 1.1 s after that in CI (volatile: no sample
    # from before the match), so it saw no handover. The supervisor waits for its commanders'
    # hardware/joint_commands publishers before it stands the robot up: the probe is made one of
    # them, and offers its (silent) publisher once the IMU reaches it.
    params = [
        f"console.port={free_port()}",
        "sim.world=empty",
        f"safety_supervisor.commanders=[wbc, hands, {PROBE}]",
    ]
    with RosProbe(domain_id, name=PROBE) as probe:
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        wbc = probe.collect(WbcStatus, "wbc/status", keep=1)
        truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", keep=1)
        imu = probe.collect(Imu, "imu/data", depth=5000)
        with LaunchedDeployment("sim_wbc", domain_id, tmp_path / "logs", params) as deployment:
            probe.wait_for(lambda: imu, 120, "imu/data from the sim")
            assert all(m.mode != SafetyState.ACTIVE for m in safety), "handed over before the probe saw the IMU"
            probe.node.create_publisher(JointState, "hardware/joint_commands", 1)  # "up": the stand-up may begin
            _stands_on_whole_body_control(probe, safety, wbc, truth, imu)
    assert deployment.exit_code == 0, deployment.output[-3000:]
    assert deployment.leftovers() == []


def _stands_on_whole_body_control(probe: RosProbe, safety: list, wbc: list, truth: list, imu: list) -> None:
    probe.wait_for(lambda: wbc and wbc[-1].active, 120, "wbc/status active (safety/state ACTIVE)")
    probe.wait_for(lambda: truth and imu, 30, "sim/base_pose_ground_truth and imu/data")
    t0 = stamp_s(truth[-1])
    probe.wait_for(lambda: stamp_s(truth[-1]) > t0 + 4.0, 120, "4 s of sim time on the WBC")
    modes = [m.mode_name for m in safety]
    assert safety[-1].mode == SafetyState.ACTIVE and wbc[-1].active, (modes, wbc[-1].inactive_reason)
    assert "HOLD" not in modes and "FAULT" not in modes, [m.reason for m in safety]
    assert truth[-1].pose.position.z > 0.9
    # standing still from the handover on: the IMU reads gravity, no shaking (it read up to
    # 30 m/s^2 for seconds, and the robot could fall, while the capture point chattered)
    active_s = min(stamp_s(m) for m in safety if m.mode == SafetyState.ACTIVE)
    with probe.lock:
        readings = [(stamp_s(m), m.linear_acceleration) for m in imu]
    deviation = [(t, abs(math.hypot(a.x, a.y, a.z) - 9.81)) for t, a in readings if t > active_s]
    assert deviation and readings[-1][0] > active_s + 3.5
    # the chatter kept the IMU off by > 3 m/s^2 in ~60 % of the samples for seconds. The handover's
    # first 0.25 s is bounded on its own: before the WBC eased its tasks in (handover_s) its first
    # commands asked 1.5-2.3 rad/s and, 10-50 ms apart on a loaded machine, jolted the IMU 9-23
    # m/s^2; since, 0.8-3.5 with a headless browser beside the `sim` deployment (7 runs, 3 of them
    # beside an acceptance run too)
    handover = [d for t, d in deviation if t < active_s + HANDOVER_S]
    assert handover, (
        f"no IMU sample in the handover's {HANDOVER_S} s; first after it {deviation[0][0] - active_s:.3f} s"
    )
    assert max(handover) < 10.0, f"the handover jolted the IMU {max(handover):.1f} m/s^2 off gravity"
    first_s = [d for t, d in deviation if active_s + HANDOVER_S <= t < active_s + HANDOVER_S + 1.0]
    shaking = sum(d > 3.0 for d in first_s) / len(first_s)
    worst_s, worst = max(deviation, key=lambda x: x[1])
    assert shaking < 0.05, (
        f"IMU off gravity by > 3 m/s^2 in {shaking:.0%} of the first second after the handover "
        f"(worst {worst:.1f} m/s^2 {worst_s - active_s:.2f} s after the handover; samples > 3 m/s^2 at "
        f"{[round(t - active_s, 3) for t, d in deviation if d > 3.0][:40]} s)"
    )
    # afterwards: standing still, 99 % of the samples within 2 m/s^2 of gravity (the chatter
    # read 25-30 m/s^2 for seconds). Single samples: 1.3 m/s^2 measured once in a few runs on
    # this 2-core machine when the WBC stalled for ~30 ms, 23 m/s^2 once beside a MuJoCo
    # process of the acceptance trials (the robot stood on)
    settled = sorted(d for t, d in deviation if t > active_s + HANDOVER_S + 1.0)
    p99 = settled[int(0.99 * (len(settled) - 1))]
    assert p99 < 2.0, (
        f"IMU off gravity by {p99:.1f} m/s^2 (p99) a second after the handover; worst {settled[-1]:.1f}, "
        f"{sum(d > 2.0 for d in settled)} of {len(settled)} samples > 2 m/s^2"
    )
