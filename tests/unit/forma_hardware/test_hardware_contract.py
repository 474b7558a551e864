"""The hardware contract: watchdogs per group, hold then damp, e-stop, latching, reset, modes."""

from __future__ import annotations

import numpy as np
import pytest

from forma_hardware import CommandRejected, HardwareConfigError, HardwareContract, JointCommand
from forma_hardware.config import load_hardware_config, parse_hardware_config
from forma_hardware.gains import load_gain_schedule
from forma_hardware.stop_latch import ActuatorMode, StopCause, StopState, WatchdogConfig

NAMES = ["knee", "elbow", "l_pip", "r_pip"]
KINDS = ["knee", "elbow", "finger_pip", "finger_pip"]
GROUPS = ["body", "body", "left_hand", "right_hand"]
LIMITS = {
    "lower": np.array([-0.05, -0.05, 0.0, 0.0]),
    "upper": np.array([2.4, 2.5, 1.9, 1.9]),
    "velocity": np.array([14.0, 10.0, 8.0, 8.0]),
    "effort": np.array([250.0, 60.0, 0.8, 0.8]),
}
GAINS = load_gain_schedule(
    {
        "knee": {"kp": 1000.0, "kd": 25.0, "damp_kd": 12.0},
        "elbow": {"kp": 60.0, "kd": 2.0, "damp_kd": 1.0},
        "finger_pip": {"kp": 1.0, "kd": 0.03, "damp_kd": 0.01},
    },
    hold_gain_scale=1.5,
)
WATCHDOGS = {
    "body": WatchdogConfig(timeout_s=0.1, hold_to_damp_s=2.0),
    "left_hand": WatchdogConfig(timeout_s=0.25, hold_to_damp_s=2.0),
    "right_hand": WatchdogConfig(timeout_s=0.25, hold_to_damp_s=2.0),
}
Q0 = np.array([0.4, 0.3, 0.2, 0.2])


def make(startup=StopState.HOLD) -> HardwareContract:
    return HardwareContract(NAMES, KINDS, GROUPS, LIMITS, GAINS, WATCHDOGS, startup_state=startup, initial_positions=Q0)


def active() -> HardwareContract:
    c = make()
    ok, _, _ = c.reset(0.0, Q0)
    assert ok
    return c


def body_cmd(t, q=(0.5, 0.6), effort=None):
    return JointCommand(["knee", "elbow"], position=q, effort=effort or (), stamp_s=t)


def test_startup_holds_the_spawn_pose_and_refuses_commands_until_reset():
    c = make()
    sp = c.setpoints()
    np.testing.assert_allclose(sp.position, Q0)
    np.testing.assert_allclose(sp.kp, [1500.0, 90.0, 1.5, 1.5])  # hold gains = 1.5 x position gains
    with pytest.raises(CommandRejected, match="group body is latched in HOLD .*reset"):
        c.submit(body_cmd(0.01), 0.01)
    assert c.commands_rejected == 1


def test_startup_state_active_is_not_allowed():
    with pytest.raises(HardwareConfigError, match="only a reset activates"):
        make(StopState.ACTIVE)


def test_reset_starts_from_the_measured_pose_so_nothing_lunges():
    c = make()
    measured = np.array([0.1, 0.2, 0.3, 0.4])
    c.reset(1.0, measured)
    np.testing.assert_allclose(c.setpoints().position, measured)


def test_commands_set_targets_and_feed_forward_of_their_joints_only():
    c = active()
    c.submit(body_cmd(0.01, effort=(10.0, -2.0)), 0.01)
    sp = c.setpoints()
    np.testing.assert_allclose(sp.position, [0.5, 0.6, 0.2, 0.2])
    np.testing.assert_allclose(sp.effort, [10.0, -2.0, 0.0, 0.0])
    np.testing.assert_allclose(sp.kp, [1000.0, 60.0, 1.0, 1.0])


def test_a_rejected_command_changes_nothing():
    c = active()
    c.submit(body_cmd(0.01), 0.01)
    before = c.setpoints()
    with pytest.raises(CommandRejected):
        c.submit(JointCommand(["knee", "elbow"], position=[0.7, float("nan")], stamp_s=0.02), 0.02)
    after = c.setpoints()
    assert after.version == before.version
    np.testing.assert_array_equal(after.position, before.position)


def test_body_timeout_holds_the_body_only_then_damps_it():
    c = active()
    c.submit(body_cmd(0.0001, q=(0.7, 0.8), effort=(30.0, 1.0)), 0.0001)
    t = 0.0
    while t < 0.3:  # hands are fed, the body is not
        t += 0.01
        c.submit(JointCommand(["l_pip", "r_pip"], position=[0.5, 0.5], stamp_s=t), t)
        c.tick(t, Q0 + 0.01)
    states = {g: s for g, (s, _, _) in c.group_states().items()}
    assert states == {"body": StopState.HOLD, "left_hand": StopState.ACTIVE, "right_hand": StopState.ACTIVE}
    assert "no command for 0.10 s" in c.group_states()["body"][2]
    sp = c.setpoints()
    np.testing.assert_allclose(sp.position[:2], [0.7, 0.8])  # the last targets, not the drooped pose
    np.testing.assert_allclose(sp.velocity[:2], 0.0)
    np.testing.assert_allclose(sp.effort[:2], 0.0)  # feed-forward dropped
    np.testing.assert_allclose(sp.kp[:2], [1500.0, 90.0])  # stiffer hold gains
    c.tick(t + 2.1, Q0)
    assert c.group_states()["body"][0] == StopState.DAMP
    sp = c.setpoints()
    np.testing.assert_allclose(sp.kp[:2], 0.0)
    np.testing.assert_allclose(sp.kd[:2], [12.0, 1.0])
    np.testing.assert_allclose(sp.effort[:2], 0.0)


def test_a_hold_requested_for_a_group_is_its_watchdogs_hold():
    """hardware/hold (a commander that went silent above the hardware, under ros2_control): that
    group holds its last targets with the cause of a command timeout; the others stay ACTIVE; a
    group not ACTIVE is left as it is; an unknown group is refused by name."""
    c = active()
    c.submit(body_cmd(0.01, q=(0.5, 0.6), effort=(3.0, 1.0)), 0.01)
    measured = np.array([0.45, 0.55, 0.2, 0.2])
    transitions = c.hold_group("body", "silent commander", 0.05, measured)
    assert [(t.group, t.new, t.cause) for t in transitions] == [("body", StopState.HOLD, StopCause.COMMAND_TIMEOUT)]
    sp = c.setpoints()
    np.testing.assert_allclose(sp.position[:2], [0.5, 0.6])  # the last targets, as the watchdog holds them
    np.testing.assert_allclose(sp.effort[:2], [0.0, 0.0])
    assert c.group_states()["left_hand"][0] == StopState.ACTIVE
    assert c.hold_group("body", "again", 0.06, measured) == []
    c.estop(True, "test", 0.07)
    assert c.hold_group("left_hand", "late", 0.08, measured) == []
    assert c.group_states()["left_hand"][0] == StopState.DAMP
    with pytest.raises(HardwareConfigError, match="unknown group 'tail'"):
        c.hold_group("tail", "x", 0.09, measured)


def test_estop_damps_everything_latches_and_blocks_reset_until_released():
    c = active()
    c.estop(True, "operator", 1.0)
    assert all(s == StopState.DAMP for s, _, _ in c.group_states().values())
    np.testing.assert_allclose(c.setpoints().kp, 0.0)
    ok, message, _ = c.reset(1.1, Q0)
    assert not ok and "e-stop is engaged" in message
    c.estop(False, "", 1.2)
    assert all(s == StopState.DAMP for s, _, _ in c.group_states().values()), "release alone must not activate"
    ok, _, _ = c.reset(1.3, Q0)
    assert ok and all(s == StopState.ACTIVE for s, _, _ in c.group_states().values())


def test_hold_in_torque_mode_latches_the_measured_pose():
    c = active()
    c.set_mode("body", ActuatorMode.TORQUE)
    c.tick(0.5, np.array([0.11, 0.22, 0.2, 0.2]))
    assert c.group_states()["body"][0] == StopState.HOLD
    np.testing.assert_allclose(c.setpoints().position[:2], [0.11, 0.22])


def test_fault_damps_every_group():
    c = active()
    c.fault("encoder error on left_knee", 0.5)
    assert {r for _, _, r in c.group_states().values()} == {"fault: encoder error on left_knee"}


def test_every_stop_state_carries_its_cause_code():
    """What programs decide on (hardware/state causes): startup, the watchdog's hold and its
    escalation, the e-stop by topic or by service, a fault; NONE once active again."""
    c = make()
    assert set(c.group_causes().values()) == {StopCause.STARTUP}
    c.reset(0.0, Q0)
    assert set(c.group_causes().values()) == {StopCause.NONE}
    c.tick(0.3, Q0)  # past every group's timeout
    assert set(c.group_causes().values()) == {StopCause.COMMAND_TIMEOUT}
    c.tick(2.5, Q0)
    assert set(c.group_causes().values()) == {StopCause.HOLD_ESCALATED}
    for cause in (StopCause.ESTOP_TOPIC, StopCause.ESTOP_SERVICE):
        c = active()
        c.estop(True, "operator", 1.0, cause)
        assert set(c.group_causes().values()) == {cause}
    c = active()
    c.fault("encoder error on left_knee", 0.5)
    assert set(c.group_causes().values()) == {StopCause.FAULT}


def test_actuator_modes():
    c = active()
    c.submit(body_cmd(0.01, effort=(5.0, 1.0)), 0.01)
    c.set_mode("body", ActuatorMode.TORQUE)
    sp = c.setpoints()
    np.testing.assert_allclose(sp.kp[:2], 0.0)
    np.testing.assert_allclose(sp.kd[:2], 0.0)
    np.testing.assert_allclose(sp.effort[:2], [5.0, 1.0])
    c.set_mode("all", ActuatorMode.DAMPING)
    sp = c.setpoints()
    np.testing.assert_allclose(sp.kd, [12.0, 1.0, 0.01, 0.01])
    np.testing.assert_allclose(sp.effort, 0.0)
    with pytest.raises(HardwareConfigError, match="unknown group 'legs'"):
        c.set_mode("legs", ActuatorMode.POSITION)


def test_shipped_hardware_config_loads_and_covers_every_joint(robot):
    cfg = load_hardware_config()
    gains = cfg.gains.arrays([j.kind for j in robot.joints])
    assert np.all(gains["kp"] > 0) and np.all(gains["damp_kd"] > 0)
    assert set(cfg.watchdogs) == {"body", "left_hand", "right_hand"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(gainz={}), "unknown key"),
        (lambda r: r.pop("watchdogs"), "missing `watchdogs:`"),
        (lambda r: r["gains"]["knee"].update(kp=-1.0), r"gains.knee.kp: must be a number >= 0"),
        (lambda r: r["gains"]["knee"].pop("kd"), "gains.knee: expected exactly the keys"),
        (lambda r: r["watchdogs"]["body"].update(timeout_s=0.0), "timeout_s must be > 0"),
        (lambda r: r["command_gate"].update(max_age=1.0), "command_gate: valid keys"),
        (lambda r: r.update(hold_gain_scale=0.0), "hold_gain_scale"),
    ],
)
def test_broken_hardware_config_names_the_field(mutate, message):
    import copy

    import yaml

    from forma_hardware.config import default_config_path

    raw = copy.deepcopy(yaml.safe_load(default_config_path().read_text()))
    mutate(raw)
    with pytest.raises(HardwareConfigError, match=message):
        parse_hardware_config(raw)


def test_unreadable_hardware_config_names_the_file(tmp_path):
    bad = tmp_path / "hw.yaml"
    bad.write_text("gains: [unclosed")
    with pytest.raises(HardwareConfigError, match=r"hw.yaml: not valid YAML"):
        load_hardware_config(bad)
    with pytest.raises(HardwareConfigError, match="cannot read"):
        load_hardware_config(tmp_path / "missing.yaml")


def test_missing_joint_kind_in_gains_is_a_config_error():
    with pytest.raises(HardwareConfigError, match="no entry for joint kind"):
        GAINS.arrays(["knee", "toe"])


def test_a_config_variant_extends_its_base(tmp_path):
    base = load_hardware_config()
    hil = load_hardware_config("hardware_hil.yaml")
    assert hil.watchdogs["body"].timeout_s == 0.25 and hil.gate.max_age_s == 0.25
    assert hil.gains == base.gains and hil.gate.position_margin_rad == base.gate.position_margin_rad
    variant = tmp_path / "v.yaml"
    variant.write_text("extends: hardware.yaml\ngains: {knee: {kp: -1, kd: 1, damp_kd: 1}}\n")
    with pytest.raises(HardwareConfigError, match="gains.knee.kp"):
        load_hardware_config(variant)


@pytest.mark.parametrize(
    "t_s,expected",
    [
        (3.9999999999, (4, 0)),
        (4.0, (4, 0)),
        (4.002, (4, 2_000_000)),
        (0.0, (0, 0)),
        (1795477511.5, (1795477511, 500_000_000)),
    ],
)
def test_stamps_round_to_the_nearest_nanosecond_and_never_step_back_a_second(t_s, expected):
    from forma_common.messages import to_time_msg

    stamp = to_time_msg(t_s)
    assert (stamp.sec, stamp.nanosec) == expected
    assert 0 <= stamp.nanosec < 1_000_000_000
