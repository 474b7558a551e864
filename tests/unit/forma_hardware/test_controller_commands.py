"""Forma's commands onto ros2_control's forward command controllers (forma_hardware.controller_commands):
the groups come from the committed controllers file; a whole-group command is split in the
controllers' joint order, empty velocity / effort become zeros, an empty position leaves the
position controller alone; what cannot cross ros2_control (a part of a group, a stale stamp, a
value for a missing controller, NaN) is refused with the reason."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
import yaml

from forma_hardware.command_gate import JointCommand
from forma_hardware.controller_commands import CommanderWatch, ControllerCommands, controller_groups
from forma_hardware.errors import CommandRejected, HardwareConfigError

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIG = yaml.safe_load((REPO / "config" / "controllers.yaml").read_text())
NOW = 100.0


@pytest.fixture(scope="module")
def split(robot):
    groups = controller_groups(CONFIG, {j.name: j.group for j in robot.joints})
    return ControllerCommands(groups)


def test_groups_of_the_committed_controllers_file(split, robot):
    by_name = {g.name: g for g in split.groups}
    assert set(by_name) == {"body", "left_hand", "right_hand"}
    assert by_name["body"].controllers == {
        "position": "body_position_controller",
        "velocity": "body_velocity_controller",
        "effort": "body_effort_controller",
    }
    assert by_name["left_hand"].controllers == {"position": "left_hand_position_controller"}
    assert sorted(by_name["body"].joints) == sorted(robot.group_joint_names("body"))


def test_a_body_command_reaches_its_three_controllers_in_their_order(split, robot):
    body = robot.group_joint_names("body")
    order = CONFIG["body_position_controller"]["ros__parameters"]["joints"]
    names = list(reversed(body))  # any order in, the controllers' order out
    q = np.linspace(-0.1, 0.1, len(names))
    out = split.split(JointCommand(names, position=q, velocity=q * 2, effort=q * 3, stamp_s=NOW), NOW)
    expected = {n: v for n, v in zip(names, q, strict=True)}
    assert out["body_position_controller"] == pytest.approx([expected[j] for j in order])
    assert out["body_velocity_controller"] == pytest.approx([2 * expected[j] for j in order])
    assert out["body_effort_controller"] == pytest.approx([3 * expected[j] for j in order])


def test_empty_velocity_and_effort_are_zeros_and_empty_position_leaves_the_target(split, robot):
    body = robot.group_joint_names("body")
    out = split.split(JointCommand(body, position=[0.0] * len(body), stamp_s=NOW), NOW)
    assert out["body_velocity_controller"] == [0.0] * len(body) and out["body_effort_controller"] == [0.0] * len(body)
    torque_only = split.split(JointCommand(body, effort=[1.0] * len(body), stamp_s=NOW), NOW)
    assert "body_position_controller" not in torque_only and torque_only["body_effort_controller"] == [1.0] * 38


def test_both_hands_in_one_command(split, robot):
    hands = robot.group_joint_names("left_hand") + robot.group_joint_names("right_hand")
    out = split.split(JointCommand(hands, position=[0.1] * 44, velocity=[0.0] * 44, stamp_s=NOW), NOW)
    assert set(out) == {"left_hand_position_controller", "right_hand_position_controller"}


@pytest.mark.parametrize(
    ("kind", "make", "reason"),
    [
        ("part of a group", lambda body, hand: JointCommand(body[:10], position=[0.0] * 10, stamp_s=NOW),
         "whole groups"),
        ("unknown joint", lambda body, hand: JointCommand([*body, "tail"], position=[0.0] * 39, stamp_s=NOW), "tail"),
        ("NaN", lambda body, hand: JointCommand(body, position=[math.nan] + [0.0] * 37, stamp_s=NOW), "finite"),
        ("stale", lambda body, hand: JointCommand(body, position=[0.0] * 38, stamp_s=NOW - 0.2), "stale"),
        ("future", lambda body, hand: JointCommand(body, position=[0.0] * 38, stamp_s=NOW + 0.2), "future"),
        ("no stamp", lambda body, hand: JointCommand(body, position=[0.0] * 38), "no header stamp"),
        ("short array", lambda body, hand: JointCommand(body, position=[0.0] * 37, stamp_s=NOW), "37 values"),
        ("nothing", lambda body, hand: JointCommand(body, stamp_s=NOW), "no position"),
        ("hand effort", lambda body, hand: JointCommand(hand, position=[0.1] * 22, effort=[0.5] * 22, stamp_s=NOW),
         "no effort controller"),
    ],
)  # fmt: skip
def test_what_cannot_cross_ros2_control_is_refused(split, robot, kind, make, reason):
    body, hand = robot.group_joint_names("body"), robot.group_joint_names("left_hand")
    with pytest.raises(CommandRejected, match=reason):
        split.split(make(body, hand), NOW)


def test_a_controllers_file_that_splits_a_group_or_mixes_groups_is_refused(robot):
    groups = {j.name: j.group for j in robot.joints}
    body = robot.group_joint_names("body")
    hand = robot.group_joint_names("left_hand")
    fcc = "forward_command_controller/ForwardCommandController"
    base = {"controller_manager": {"ros__parameters": {"a": {"type": fcc}}}}
    mixed = {**base, "a": {"ros__parameters": {"joints": [body[0], hand[0]], "interface_name": "position"}}}
    with pytest.raises(HardwareConfigError, match="several groups"):
        controller_groups(mixed, groups)
    no_position = {**base, "a": {"ros__parameters": {"joints": body, "interface_name": "effort"}}}
    with pytest.raises(HardwareConfigError, match="no position controller"):
        controller_groups(no_position, groups)


def test_a_commander_silent_past_its_groups_timeout_is_reported_once():
    watch = CommanderWatch({"body": 0.1, "left_hand": 0.25})
    assert watch.silent(5.0) == []  # nobody spoke yet: nothing to miss (the hardware holds from start)
    watch.spoke({"body", "left_hand"}, 1.0)
    assert watch.silent(1.09) == []
    assert watch.silent(1.11) == ["body"]
    assert watch.silent(1.2) == []  # once per silence
    assert watch.silent(1.26) == ["left_hand"]
    watch.spoke({"body"}, 1.3)  # it speaks again: a new silence will be reported
    assert watch.silent(1.35) == []
    assert watch.silent(1.41) == ["body"]

