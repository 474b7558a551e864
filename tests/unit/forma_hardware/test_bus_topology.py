"""The real robot's bus topology: every joint on one bus within its actuator's ranges, bus load
(bit stuffing included) that fits at the configured rates, joint <-> actuator mapping,
calibration, thermal derating."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from forma_hardware.bus.load import bus_load, classic_frame_bits, fd_frame_time_s
from forma_hardware.bus.mapping import BusMapping, Calibration, calibrate, derated_targets
from forma_hardware.bus.topology import default_topology_path, load_topology, parse_topology
from forma_hardware.errors import HardwareConfigError

MAX_LOAD = 0.70  # leave 30 % for error frames, retransmissions and jitter


@pytest.fixture(scope="module")
def topology(robot):
    return load_topology(robot)


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(default_topology_path().read_text())


def test_every_joint_is_on_exactly_one_bus(topology, robot):
    joints = [m.joint for b in topology.buses for m in b.motors]
    assert sorted(joints) == sorted(robot.joint_names)
    for b in topology.buses:
        assert [m.can_id for m in b.motors] == list(range(1, len(b.motors) + 1))


def test_configured_topology_fits_at_its_rates(topology):
    for b in topology.buses:
        assert bus_load(b) <= MAX_LOAD, f"bus {b.name}: {bus_load(b):.0%} at {b.rate_hz} Hz"
    body = [b for b in topology.buses if "hand" not in b.name]
    assert all(b.rate_hz == 500.0 for b in body)


def test_frame_lengths_match_the_standards():
    # classic CAN, standard ID, 8 data bytes: 111 bits + <= 24 stuff bits + 3 IFS (worst case 135 + 3 - 3)
    assert classic_frame_bits(8) == 135
    assert classic_frame_bits(0) == 47 + (34 - 1) // 4
    # CAN-FD 8 bytes at 1/5 Mbit/s: about 56 us; a 64-byte frame at 1/5 Mbit/s about 160 us
    assert fd_frame_time_s(8, 1e6, 5e6) == pytest.approx(56.6e-6, abs=1e-6)
    assert 150e-6 < fd_frame_time_s(64, 1e6, 5e6) < 170e-6


def test_classic_can_would_not_fit_the_legs_at_500_hz(topology):
    """Why the robot uses CAN-FD: 7 motors x 2 classic frames x 500 Hz saturate a 1 Mbit/s bus."""
    import dataclasses

    leg = dataclasses.replace(topology.bus("left_leg"), fd=False, sensors=())
    assert bus_load(leg) > 0.9


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["buses"]["left_leg"]["joints"].append("right_knee"), "right_knee is already on bus"),
        (lambda r: r["buses"]["left_leg"]["joints"].remove("left_toe"), r"joint\(s\) on no bus: left_toe"),
        (lambda r: r["buses"]["left_leg"]["joints"].append("left_kneee"), "'left_kneee' is not a joint"),
        (lambda r: r["joint_models"].update(knee="fm_s"), "left_knee: effort limit 250.0 N m exceeds model fm_s"),
        (lambda r: r["buses"]["torso"].update(interface="tcp"), "interface: 'tcp'"),
        (lambda r: r["buses"]["torso"]["sensors"].append("lidar"), "unknown board 'lidar'"),
        (lambda r: r["models"]["fm_s"].update(t=[1.0, -1.0]), "models.fm_s: t range"),
        (lambda r: r["joint_mapping"].update(left_knee={"ratio": -2}), "ratio must be > 0"),
        (lambda r: r.update(speed=1), "unknown key"),
    ],
)
def test_broken_topology_names_the_field(raw, robot, mutate, message):
    broken = copy.deepcopy(raw)
    mutate(broken)
    with pytest.raises(HardwareConfigError, match=message):
        parse_topology(broken, robot, {})


def test_overrides_point_buses_at_the_emulator(robot):
    t = load_topology(robot, overrides={"*": {"interface": "udp_multicast"}, "torso": {"channel": "239.1.2.3"}})
    assert {b.interface for b in t.buses} == {"udp_multicast"}
    assert t.bus("torso").channel == "239.1.2.3"


@given(
    q=st.floats(-2.0, 2.0),
    qd=st.floats(-10, 10),
    tau=st.floats(-50, 50),
    ratio=st.floats(0.5, 3.0),
    direction=st.sampled_from([-1, 1]),
    offset=st.floats(-3.0, 3.0),
)
def test_mapping_round_trips(q, qd, tau, ratio, direction, offset):
    import dataclasses

    from forma_hardware.bus.topology import MotorSpec

    dummy = dataclasses.make_dataclass("M", [])()
    motor = MotorSpec("j", 1, dummy, ratio, direction)
    m = BusMapping([motor], Calibration({"j": offset}))
    p, v, kp, kd, t = m.to_actuator(np.array([q]), np.array([qd]), np.array([100.0]), np.array([2.0]), np.array([tau]))
    q2, qd2, tau2 = m.to_joint(p, v, t)
    np.testing.assert_allclose([q2[0], qd2[0], tau2[0]], [q, qd, tau], atol=1e-9)
    assert kp[0] == pytest.approx(100.0 / ratio**2)  # joint stiffness seen through the ratio


def test_calibration_recovers_zero_offsets_and_survives_a_round_trip(topology, tmp_path):
    motors = topology.bus("left_leg").motors
    true_offsets = np.linspace(-1.0, 1.0, len(motors))
    pose = np.array([0.0, 0.1, -0.2, 0.4, -0.2, 0.0, 0.0])
    m = BusMapping(motors, Calibration(dict(zip([x.joint for x in motors], true_offsets, strict=True))))
    actuator_p, *_ = m.to_actuator(pose, 0 * pose, 0 * pose, 0 * pose, 0 * pose)
    cal = calibrate(motors, actuator_p, pose, "stand")
    np.testing.assert_allclose([cal.offsets_rad[x.joint] for x in motors], true_offsets, atol=1e-12)
    cal.save(tmp_path / "cal.yaml")
    assert Calibration.load(tmp_path / "cal.yaml").offsets_rad == cal.offsets_rad
    (tmp_path / "bad.yaml").write_text("offsets_rad: {left_knee: .nan}")
    with pytest.raises(HardwareConfigError, match="not a finite number"):
        Calibration.load(tmp_path / "bad.yaml")


def test_thermal_derating(topology):
    model = topology.motor("left_knee").model
    assert model.torque_limit_nm(25.0) == 260.0
    assert model.torque_limit_nm(82.5) == pytest.approx((260.0 + 90.0) / 2)
    assert model.torque_limit_nm(120.0) == 90.0
    q_target, tau, limited = derated_targets(
        np.array([1.0, 0.1]),
        np.array([0.0, 0.0]),
        np.array([1000.0, 1000.0]),
        np.array([50.0, 0.0]),
        np.array([90.0, 90.0]),
    )
    assert tau[0] == 50.0 and q_target[0] == pytest.approx(0.04)  # 1000 * 0.04 + 50 = 90 N m
    assert q_target[1] == pytest.approx(0.09) and list(limited) == [True, True]
