"""What the browser console shows and sends, computed without a browser or ROS: joint mapping,
status text, image conversion, the joystick's limits, hand targets and detected-object boxes."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from forma_console.images import ImageFormatError, color_to_rgb, depth_to_rgb, thumbnail
from forma_console.teleop import TeleopError, WalkLimits, gaze_target, hand_target, point_ahead
from forma_console.view_model import (
    JointStateMapper,
    hardware_status_markdown,
    instruction_markdown,
    object_boxes,
    safety_markdown,
)
from forma_interfaces.msg import DetectedObject


def test_mapper_reorders_keeps_missing_and_ignores_unknown_and_nan():
    m = JointStateMapper(["a", "b", "c"])
    assert m.update(["c", "a", "zz"], [3.0, 1.0, 9.0]) == 2
    np.testing.assert_allclose(m.configuration, [1.0, 0.0, 3.0])
    assert m.update(["b", "a"], [2.0, math.nan]) == 1
    np.testing.assert_allclose(m.configuration, [1.0, 2.0, 3.0])
    assert m.update(["a"], [1.0, 2.0]) == 0  # malformed: lengths differ


def test_status_markdown_names_states_modes_and_reasons():
    text = hardware_status_markdown(["body", "left_hand"], [1, 0], [0, 2], ["no command for 0.10 s", ""], True, 3, 1)
    assert "**E-STOP ENGAGED**" in text
    assert "| body | HOLD | position | no command for 0.10 s |" in text
    assert "| left_hand | ACTIVE | damping |  |" in text
    assert "rejected: 3, clamped: 1" in text


# --- images -----------------------------------------------------------------------------------
def test_colour_encodings_become_rgb_and_padding_is_dropped():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, 12), np.uint8)  # step 12 > 3 px * 3 bytes: row padding
    padded[:, :9] = rgb.reshape(2, 9)
    assert np.array_equal(color_to_rgb(padded.tobytes(), 2, 3, 12, "rgb8"), rgb)
    assert np.array_equal(color_to_rgb(rgb[:, :, ::-1].tobytes(), 2, 3, 9, "bgr8"), rgb)
    rgba = np.concatenate([rgb, np.full((2, 3, 1), 255, np.uint8)], axis=2)
    assert np.array_equal(color_to_rgb(rgba.tobytes(), 2, 3, 12, "rgba8"), rgb)
    mono = color_to_rgb(bytes([7, 8, 9, 10, 11, 12]), 2, 3, 3, "mono8")
    assert mono.shape == (2, 3, 3) and mono[1, 2].tolist() == [12, 12, 12]


@pytest.mark.parametrize(
    ("data", "height", "width", "step", "encoding", "reason"),
    [
        (bytes(18), 2, 3, 9, "yuv422", "not shown"),
        (bytes(17), 2, 3, 9, "rgb8", "got 17"),
        (bytes(12), 2, 3, 6, "rgb8", ">= 9 per row"),
        (b"", 0, 3, 9, "rgb8", "empty image"),
    ],
)
def test_images_the_console_cannot_show_are_refused_with_the_reason(data, height, width, step, encoding, reason):
    with pytest.raises(ImageFormatError, match=re.escape(reason)):
        color_to_rgb(data, height, width, step, encoding)


def test_depth_ramp_is_near_red_far_blue_and_holes_black():
    depth_m = np.array([[0.2, 4.0, np.nan, 0.0, np.inf, 2.1]], np.float32)
    rgb = depth_to_rgb(depth_m.tobytes(), 1, 6, 24, "32FC1", False)
    near, far, hole_nan, hole_zero, hole_inf, middle = rgb[0]
    assert near[0] == 255 and near[2] == 0 and far[2] == 255 and far[0] == 0
    assert hole_nan.tolist() == hole_zero.tolist() == hole_inf.tolist() == [0, 0, 0]
    assert middle[1] > 200  # green in the middle of the range
    millimetres = np.array([[200, 4000]], ">u2")  # big-endian 16UC1
    assert np.array_equal(depth_to_rgb(millimetres.tobytes(), 1, 2, 4, "16UC1", True)[0], rgb[0, :2])
    with pytest.raises(ImageFormatError, match="depth encoding"):
        depth_to_rgb(bytes(4), 1, 1, 4, "rgb8", False)


def test_thumbnail_keeps_at_most_the_width():
    assert thumbnail(np.zeros((480, 1280, 3), np.uint8), 480).shape == (160, 427, 3)
    assert thumbnail(np.zeros((120, 160, 3), np.uint8), 320).shape == (120, 160, 3)


# --- teleop -----------------------------------------------------------------------------------
def test_walk_limits_clamp_and_non_finite_stops():
    limits = WalkLimits(0.5, 0.3, 0.8)
    assert limits.clamp(0.2, -0.1, 0.4) == (0.2, -0.1, 0.4)
    assert limits.clamp(2.0, -2.0, 9.0) == (0.5, -0.3, 0.8)
    assert limits.clamp(float("nan"), 0.1, 0.1) == (0.0, 0.0, 0.0)
    for bad in ((0.0, 0.3, 0.8), (0.5, float("inf"), 0.8), (0.5, 0.3, -1.0)):
        with pytest.raises(TeleopError, match="outside"):
            WalkLimits(*bad)


def test_hand_targets_are_normalised_or_refused():
    position, wxyz = hand_target([0.3, 0.2, 0.1], [2.0, 0.0, 0.0, 0.0])
    assert position.tolist() == [0.3, 0.2, 0.1] and wxyz.tolist() == [1.0, 0.0, 0.0, 0.0]
    for bad in (([np.nan, 0, 0], [1, 0, 0, 0]), ([0, 0, 0], [0, 0, 0, 0]), ([0, 0], [1, 0, 0, 0])):
        with pytest.raises(TeleopError):
            hand_target(*bad)


def test_gaze_targets_are_finite_points_and_start_in_front_of_the_head():
    assert gaze_target([1.0, 0.1, 0.4]).tolist() == [1.0, 0.1, 0.4]
    for bad in ([np.nan, 0, 0], [0, np.inf, 0], [0, 0]):
        with pytest.raises(TeleopError):
            gaze_target(bad)
    np.testing.assert_allclose(point_ahead([0, 0, 0.5], [1, 0, 0, 0], 1.0), [1.0, 0.0, 0.5])
    turned_left = [math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)]  # 90 deg about z
    np.testing.assert_allclose(point_ahead([0, 0, 0], turned_left, 2.0), [0.0, 2.0, 0.0], atol=1e-12)
    pitched_down = [math.cos(0.25), 0, math.sin(0.25), 0]  # 0.5 rad about y: looks down
    assert point_ahead([0, 0, 0], pitched_down, 1.0)[2] == pytest.approx(-math.sin(0.5))


# --- objects, safety, instructions ------------------------------------------------------------
def _object(track_id="obj-1", label="cup", color="red", score=0.9, xyz=(0.5, 0.1, 0.8), size=(0.08, 0.08, 0.1)):
    obj = DetectedObject(id=track_id, label=label, color=color, score=score)
    obj.pose.position.x, obj.pose.position.y, obj.pose.position.z = xyz
    obj.pose.orientation.w = 2.0  # not normalised: the view normalises
    obj.size_m.x, obj.size_m.y, obj.size_m.z = size
    return obj


def test_object_boxes_keep_track_ids_and_skip_broken_entries():
    boxes, skipped = object_boxes(
        [
            _object(),
            _object("obj/2", "box", ""),
            _object("obj-3", xyz=(np.nan, 0, 0)),
            _object("obj-4", size=(-1, 1, 1)),
        ]
    )
    assert [b.key for b in boxes] == ["obj-1", "obj_2"]  # IDs name scene nodes: no path separators
    assert boxes[0].caption == "red cup 0.90" and boxes[1].caption == "box 0.90"
    assert boxes[0].wxyz.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert skipped == ["obj-3: non-finite pose or size", "obj-4: negative size"]


def test_safety_and_instruction_text():
    assert (
        safety_markdown(4, "ESTOP", "browser console", True) == "**safety: ESTOP** — e-stop engaged  \nbrowser console"
    )
    assert safety_markdown(2, "", "", False) == "**safety: ACTIVE**"
    text = instruction_markdown("pick up the red cup", "running", "reaching", 0.5)
    assert text == "**pick up the red cup**  \nrunning  \nphase: reaching (50 %)"
def test_link_quaternions_are_the_rotations_the_view_sends():
    """The 3D view's poses, all links at once: each quaternion rotates as its matrix does,
    including the half turns where the trace is -1."""
    import pinocchio as pin

    from forma_console.robot_view import quaternions_wxyz

    rng = np.random.default_rng(3)
    rotations = [pin.exp3(rng.normal(size=3) * 2.0) for _ in range(500)]
    rotations += [np.diag(d) for d in ((1.0, -1.0, -1.0), (-1.0, 1.0, -1.0), (-1.0, -1.0, 1.0), (1.0, 1.0, 1.0))]
    for rotation, (w, x, y, z) in zip(rotations, quaternions_wxyz(np.array(rotations)), strict=True):
        assert w >= 0.0
        np.testing.assert_allclose(pin.Quaternion(w, x, y, z).toRotationMatrix(), rotation, atol=1e-9)
