"""The command gate: reject vs clamp (DESIGN §4). Every refusal names the reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forma_hardware import CommandGate, CommandRejected, GateLimits, HardwareConfigError, JointCommand

NAMES = ["left_knee", "left_elbow", "left_index_pip"]
GROUPS = ["body", "body", "left_hand"]
NOW = 10.0


@pytest.fixture()
def gate():
    return CommandGate(
        NAMES,
        lower=np.array([-0.05, -0.05, 0.0]),
        upper=np.array([2.4, 2.5, 1.9]),
        velocity_limit=np.array([14.0, 10.0, 8.0]),
        effort_limit=np.array([250.0, 60.0, 0.8]),
        groups=GROUPS,
        limits=GateLimits(position_margin_rad=0.02, velocity_margin_fraction=0.05, effort_margin_fraction=0.05),
    )


def cmd(**kw):
    base = {"names": ["left_knee"], "position": [0.4], "stamp_s": NOW - 0.001}
    base.update(kw)
    return JointCommand(**base)


def test_valid_subset_command_passes_unchanged(gate):
    out = gate.check(cmd(names=["left_index_pip", "left_knee"], position=[0.5, 1.0], effort=[0.1, 20.0]), NOW)
    assert list(out.indices) == [2, 0]
    np.testing.assert_allclose(out.position, [0.5, 1.0])
    np.testing.assert_allclose(out.effort, [0.1, 20.0])
    assert out.velocity is None and out.clamped == ()
    assert out.groups == {"body", "left_hand"}


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (cmd(names=[]), "names no joints"),
        (cmd(names=["left_knee", "left_knee"], position=[0.1, 0.2]), "repeated"),
        (cmd(names=["left_kneee"]), "unknown joint name"),
        (cmd(position=[0.1, 0.2]), "position has 2 values for 1 joint names"),
        (cmd(velocity=[0.1, 0.2]), "velocity has 2 values"),
        (cmd(position=[]), "carries no position, velocity or effort"),
        (cmd(position=[math.nan]), "position of left_knee is not a finite number"),
        (cmd(position=[0.1], velocity=[math.inf]), "velocity of left_knee is not a finite number"),
        (cmd(position=[0.1], effort=[-math.inf]), "effort of left_knee is not a finite number"),
        (cmd(stamp_s=0.0), "no header stamp"),
        (cmd(stamp_s=NOW - 0.5), "stale"),
        (cmd(stamp_s=NOW + 0.5), "in the future"),
        (cmd(position=[2.5]), r"left_knee position 2.500 rad is outside its limits \[-0.050, 2.400\]"),
        (cmd(position=[-0.2]), "outside its limits"),
        (cmd(velocity=[15.0]), "left_knee velocity 15.000 rad/s is outside"),
        (cmd(effort=[300.0]), "left_knee effort 300.000 N m is outside"),
    ],
)
def test_bad_commands_are_rejected_whole_with_the_reason(gate, command, reason):
    with pytest.raises(CommandRejected, match=reason):
        gate.check(command, NOW)


def test_targets_just_past_a_limit_are_clamped_and_reported(gate):
    out = gate.check(cmd(names=["left_knee", "left_elbow"], position=[2.41, -0.06], velocity=[14.5, 0.0]), NOW)
    np.testing.assert_allclose(out.position, [2.4, -0.05])
    np.testing.assert_allclose(out.velocity, [14.0, 0.0])
    assert len(out.clamped) == 3
    assert "left_knee position 2.410 clamped to 2.400 rad" in out.clamped


def test_gate_limits_must_be_finite_and_non_negative():
    with pytest.raises(HardwareConfigError, match="max_age_s"):
        GateLimits(max_age_s=-1.0)
    with pytest.raises(HardwareConfigError, match="position_margin_rad"):
        GateLimits(position_margin_rad=math.nan)
