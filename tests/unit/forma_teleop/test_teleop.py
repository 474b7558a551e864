"""Teleop markers without ROS running: marker feedback -> WBC targets (frames, stamps, NaN and
quaternion refusals), the rate limit while dragging, the markers' controls per target, where
they start (forward kinematics), the settings' checks, and the marker-server protocol state."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pinocchio as pin
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PointStamped, Pose, PoseStamped
from rclpy.serialization import deserialize_message, serialize_message
from visualization_msgs.msg import InteractiveMarker, InteractiveMarkerControl, InteractiveMarkerFeedback, MenuEntry
from visualization_msgs.srv import GetInteractiveMarkers

from forma_description.frames import RobotFrames
from forma_description.poses import named_pose
from forma_teleop.errors import TeleopError
from forma_teleop.marker_protocol import CONFLICT_WINDOW_S, MarkerProtocol
from forma_teleop.markers import (
    AXIS_ORIENTATION_WXYZ,
    RESET_MENU_ID,
    initial_target_poses,
    pose_msg,
    target_marker,
)
from forma_teleop.targets import RateLimiter, TeleopConfig, check_namespace, target_from_feedback

STAMP = Time(sec=12, nanosec=500)
C = InteractiveMarkerControl
F = InteractiveMarkerFeedback


def feedback(
    name="right_hand", frame="base_link", xyz=(0.3, -0.2, 0.1), wxyz=(1.0, 0.0, 0.0, 0.0), event=F.POSE_UPDATE
):
    fb = InteractiveMarkerFeedback()
    fb.marker_name, fb.event_type, fb.client_id = name, event, "/rviz"
    fb.header.frame_id = frame
    fb.pose = pose_msg(xyz, wxyz)
    return fb


def rotate(wxyz, v) -> np.ndarray:
    w, x, y, z = wxyz
    return pin.Quaternion(w, x, y, z).toRotationMatrix() @ np.asarray(v, float)


# --- feedback -> targets ---------------------------------------------------------------------------
def test_hand_feedback_becomes_a_pose_target_in_the_markers_frame_with_the_robots_stamp():
    q = (math.cos(0.3), 0.0, math.sin(0.3), 0.0)
    for event in (F.POSE_UPDATE, F.MOUSE_UP):
        target = target_from_feedback(feedback(wxyz=q, event=event), "base_link", STAMP)
        assert isinstance(target, PoseStamped)
        assert target.header.frame_id == "base_link" and target.header.stamp == STAMP
        p, o = target.pose.position, target.pose.orientation
        assert (p.x, p.y, p.z) == (0.3, -0.2, 0.1)
        assert (o.w, o.x, o.y, o.z) == pytest.approx(q)
    torso = target_from_feedback(feedback("left_hand", frame="torso"), "torso", STAMP)
    assert torso.header.frame_id == "torso"


def test_gaze_feedback_becomes_a_point_and_torso_feedback_a_pose():
    gaze = target_from_feedback(feedback("gaze", xyz=(1.0, 0.1, 0.4)), "base_link", STAMP)
    assert isinstance(gaze, PointStamped)
    assert (gaze.point.x, gaze.point.y, gaze.point.z) == (1.0, 0.1, 0.4) and gaze.header.stamp == STAMP
    torso = target_from_feedback(feedback("torso", xyz=(0.0, 0.0, 0.25)), "base_link", STAMP)
    assert isinstance(torso, PoseStamped) and torso.pose.position.z == 0.25


def test_events_without_a_pose_command_nothing():
    for event in (F.KEEP_ALIVE, F.MOUSE_DOWN, F.MENU_SELECT, F.BUTTON_CLICK):
        assert target_from_feedback(feedback(event=event), "base_link", STAMP) is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"xyz": (math.nan, 0.0, 0.0)}, r"position \(nan, 0.0, 0.0\) is not finite"),
        ({"xyz": (0.0, math.inf, 0.0)}, r"position \(0.0, inf, 0.0\) is not finite"),
        ({"wxyz": (math.nan, 0.0, 0.0, 1.0)}, r"orientation \(w=nan.*is not finite"),
        ({"wxyz": (0.9, 0.0, 0.0, 0.0)}, r"norm 0.9000, not 1 within 0.01"),
        ({"wxyz": (0.0, 0.0, 0.0, 0.0)}, r"norm 0.0000"),
        ({"frame": "odom"}, r"in frame 'odom', the marker is in 'base_link'"),
        ({"frame": ""}, r"in frame '', the marker is in 'base_link'"),
        ({"name": "left_foot"}, r"marker 'left_foot': the markers are \['left_hand', 'right_hand', 'gaze', 'torso'\]"),
        ({"name": "gaze", "xyz": (0.0, math.nan, 1.0)}, r"gaze point \(0.0, nan, 1.0\) is not finite"),
    ],
)
def test_bad_feedback_is_refused_naming_the_value(kwargs, reason):
    with pytest.raises(TeleopError, match=reason):
        target_from_feedback(feedback(**kwargs), "base_link", STAMP)


def test_a_nearly_unit_quaternion_is_normalised_a_far_one_refused():
    target = target_from_feedback(feedback(wxyz=(0.0, 0.0, 0.0, 1.005)), "base_link", STAMP, 0.01)
    o = target.pose.orientation
    assert (o.w, o.x, o.y, o.z) == pytest.approx((0.0, 0.0, 0.0, 1.0), abs=1e-12)
    with pytest.raises(TeleopError, match="norm 1.0050, not 1 within 0.001"):
        target_from_feedback(feedback(wxyz=(0.0, 0.0, 0.0, 1.005)), "base_link", STAMP, 0.001)


def test_no_robot_clock_yet_is_refused():
    with pytest.raises(TeleopError, match="no robot clock yet"):
        target_from_feedback(feedback(), "base_link", Time())


# --- rate limit -------------------------------------------------------------------------------------
def test_dragging_at_1khz_sends_at_most_the_rate_and_always_the_last_pose():
    limiter = RateLimiter(20.0)
    sent: list[tuple[float, int]] = []
    t = 0.0
    for i in range(1000):  # one second of feedback at 1 kHz, the flush timer at 20 Hz
        t = i * 0.001
        if limiter.offer("right_hand", i, t) is not None:
            sent.append((t, i))
        if i % 50 == 49:
            sent += [(t, item) for _, item in limiter.due(t)]
    sent += [(1.1, item) for _, item in limiter.due(1.1)]  # after the operator let go
    times = [s for s, _ in sent]
    assert 19 <= len(sent) <= 21
    assert min(np.diff(times)) >= 0.05 - 1e-9, "never faster than 20 Hz"
    assert sent[-1][1] == 999, "the pose the operator let go of is sent"
    assert limiter.due(2.0) == [] and limiter.offer("right_hand", "next", 2.0) == "next"


def test_rate_limit_is_per_target():
    limiter = RateLimiter(10.0)
    assert limiter.offer("left_hand", 1, 0.0) == 1
    assert limiter.offer("right_hand", 2, 0.01) == 2
    assert limiter.offer("left_hand", 3, 0.05) is None
    assert limiter.due(0.09) == []
    assert limiter.due(0.10) == [("left_hand", 3)]
    limiter.offer("left_hand", 4, 0.15)
    limiter.drop("left_hand")
    assert limiter.due(1.0) == []
    with pytest.raises(TeleopError, match="max_rate_hz 0"):
        RateLimiter(0)


# --- settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"frame": "odom"}, r"frame 'odom': the whole-body controller takes targets in \('base_link', 'torso'\)"),
        ({"targets": ("left_hand", "nose")}, r"targets \['left_hand', 'nose'\]: each must be one of"),
        ({"targets": ()}, r"at least one"),
        ({"targets": ("gaze", "gaze")}, r"names a target twice"),
        ({"frame": "torso"}, r"torso target in its own frame"),
        ({"max_rate_hz": 0.5}, r"max_rate_hz 0.5 outside 1..100"),
        ({"max_rate_hz": math.nan}, r"max_rate_hz nan"),
        ({"quaternion_tolerance": 0.5}, r"quaternion_tolerance 0.5 outside"),
        ({"gaze_distance_m": 0.0}, r"gaze_distance_m 0.0 outside 0.2..5"),
    ],
)
def test_bad_settings_are_refused_naming_the_parameter(kwargs, reason):
    with pytest.raises(TeleopError, match=reason):
        TeleopConfig(**kwargs)


def test_torso_frame_works_without_the_torso_target_and_namespaces_are_checked():
    assert TeleopConfig(frame="torso", targets=("left_hand", "right_hand", "gaze")).frame == "torso"
    assert check_namespace("teleop") == "teleop" and check_namespace("/forma/teleop") == "/forma/teleop"
    for bad in ("", "tele op", "teleop/", "/", "9lives", "a//b"):
        with pytest.raises(TeleopError, match="server_namespace"):
            check_namespace(bad)


# --- markers ------------------------------------------------------------------------------------------
def controls_by_name(marker: InteractiveMarker) -> dict[str, InteractiveMarkerControl]:
    return {c.name: c for c in marker.controls}


def control_axis(control: InteractiveMarkerControl) -> np.ndarray:
    o = control.orientation
    return rotate((o.w, o.x, o.y, o.z), (1.0, 0.0, 0.0))


def test_hand_markers_have_six_dof_controls_about_the_right_axes():
    q = (math.cos(0.2), math.sin(0.2), 0.0, 0.0)
    marker = target_marker("left_hand", "base_link", (0.3, 0.2, 0.1), q)
    assert marker.name == "left_hand" and marker.header.frame_id == "base_link"
    assert marker.header.stamp == Time(), "stamp zero: RViz keeps the marker locked to its frame"
    p, o = marker.pose.position, marker.pose.orientation
    assert (p.x, p.y, p.z, o.w, o.x, o.y, o.z) == pytest.approx((0.3, 0.2, 0.1, *q))
    controls = controls_by_name(marker)
    for i, axis in enumerate("xyz"):
        move, turn = controls[f"move_{axis}"], controls[f"rotate_{axis}"]
        assert move.interaction_mode == C.MOVE_AXIS and move.orientation_mode == C.FIXED
        assert turn.interaction_mode == C.ROTATE_AXIS and turn.orientation_mode == C.INHERIT
        np.testing.assert_allclose(control_axis(move), np.eye(3)[i], atol=1e-12)
        np.testing.assert_allclose(control_axis(turn), np.eye(3)[i], atol=1e-12)
    assert controls["body"].always_visible and controls["body"].markers, "the palm is drawn"
    assert [(e.id, e.command_type) for e in marker.menu_entries] == [(RESET_MENU_ID, MenuEntry.FEEDBACK)]
    assert len(marker.controls) == 7


def test_gaze_marker_only_moves_and_torso_marker_moves_up_and_turns():
    gaze = controls_by_name(target_marker("gaze", "base_link", (1.0, 0.0, 0.4)))
    assert set(gaze) == {"move_3d", "move_x", "move_y", "move_z"}
    assert gaze["move_3d"].interaction_mode == C.MOVE_3D and gaze["move_3d"].markers
    assert all(c.interaction_mode != C.ROTATE_AXIS for c in gaze.values())
    torso = controls_by_name(target_marker("torso", "base_link", (0.0, 0.0, 0.3)))
    assert set(torso) == {"body", "move_z", "rotate_x", "rotate_y", "rotate_z"}
    np.testing.assert_allclose(control_axis(torso["move_z"]), [0.0, 0.0, 1.0], atol=1e-12)
    assert torso["move_z"].interaction_mode == C.MOVE_AXIS


def test_markers_are_valid_messages_and_bad_poses_are_refused():
    for name in ("left_hand", "right_hand", "gaze", "torso"):
        marker = target_marker(name, "torso", (0.1, 0.2, 0.3))
        wire = serialize_message(marker)  # every field has the message's type (RViz gets what we built)
        back = deserialize_message(wire, InteractiveMarker)
        assert back.name == name and back.pose == marker.pose and back.header == marker.header
        assert [(c.name, c.interaction_mode) for c in back.controls] == [
            (c.name, c.interaction_mode) for c in marker.controls
        ]
        for control in marker.controls:
            o = control.orientation
            assert math.isclose(o.w**2 + o.x**2 + o.y**2 + o.z**2, 1.0, rel_tol=1e-12), "RViz wants unit quaternions"
    assert set(AXIS_ORIENTATION_WXYZ) == {"x", "y", "z"}
    with pytest.raises(TeleopError, match="no marker for target 'nose'"):
        target_marker("nose", "base_link", (0, 0, 0))
    with pytest.raises(TeleopError, match="not a finite position"):
        target_marker("gaze", "base_link", (0, math.nan, 0))
    with pytest.raises(TeleopError, match="has norm 2.000000"):
        target_marker("left_hand", "base_link", (0, 0, 0), (2.0, 0.0, 0.0, 0.0))


def test_markers_start_at_the_palms_torso_and_in_front_of_the_head(robot, urdf_xml):
    q = named_pose("stand", robot)
    names = [j.name for j in robot.joints]
    frames = RobotFrames(urdf_xml)
    frames.update(names, list(q))
    # independent FK: pinocchio on the same description, world poses of the frames
    model = pin.buildModelFromXML(urdf_xml)
    data = model.createData()
    qp = pin.neutral(model)
    for name, value in zip(names, q, strict=True):
        qp[model.joints[model.getJointId(name)].idx_q] = value
    pin.framesForwardKinematics(model, data, qp)

    def world(frame):
        return data.oMf[model.getFrameId(frame)]

    for frame in ("base_link", "torso"):
        config = TeleopConfig(frame=frame, targets=("left_hand", "right_hand", "gaze"), gaze_distance_m=0.8)
        poses = initial_target_poses(frames, config)
        ref = world(frame)
        for hand in ("left_hand", "right_hand"):
            expected = ref.actInv(world(hand))
            position, wxyz = poses[hand]
            np.testing.assert_allclose(position, expected.translation, atol=1e-9)
            np.testing.assert_allclose(rotate(wxyz, np.eye(3)[0]), expected.rotation[:, 0], atol=1e-9)
        head = ref.actInv(world("head"))
        gaze, _ = poses["gaze"]
        assert np.linalg.norm(gaze - head.translation) == pytest.approx(0.8)
        np.testing.assert_allclose((gaze - head.translation) / 0.8, head.rotation[:, 0], atol=1e-9)
    left, right = (
        initial_target_poses(frames, TeleopConfig())["left_hand"],
        initial_target_poses(frames, TeleopConfig())["right_hand"],
    )
    assert left[0][1] > 0.1 and right[0][1] < -0.1, "left palm on the left (+y), right on the right"


def test_pure_modules_never_import_rclpy():
    code = (
        "import sys, forma_teleop.targets, forma_teleop.markers, forma_teleop.marker_protocol; "
        "sys.exit('rclpy' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- the marker-server protocol ----------------------------------------------------------------------
def test_protocol_sends_numbered_updates_and_answers_with_every_marker():
    server = MarkerProtocol("/teleop_markers")
    assert server.apply_changes() is None, "nothing pending, nothing sent"
    server.insert(target_marker("left_hand", "base_link", (0.1, 0.2, 0.0)))
    server.insert(target_marker("gaze", "base_link", (1.0, 0.0, 0.4)))
    assert server.set_pose("gaze", pose_msg((1.0, 0.1, 0.4), (1, 0, 0, 0))), "a marker not yet sent can be moved"
    first = server.apply_changes()
    assert first.seq_num == 1 and first.type == first.UPDATE and first.server_id == "/teleop_markers"
    assert [m.name for m in first.markers] == ["left_hand", "gaze"] and first.markers[1].pose.position.y == 0.1
    response = server.fill_response(GetInteractiveMarkers.Response())
    assert response.sequence_number == 1 and {m.name for m in response.markers} == {"left_hand", "gaze"}

    assert not server.set_pose("torso", Pose()), "unknown marker"
    assert server.set_pose("left_hand", pose_msg((0.3, 0.2, 0.0), (1, 0, 0, 0)))
    assert server.get("left_hand").pose.position.x == 0.3, "get shows the pending pose"
    second = server.apply_changes()
    assert second.seq_num == 2 and not second.markers and [p.name for p in second.poses] == ["left_hand"]
    assert second.poses[0].header.frame_id == "base_link", "the marker's own header is kept"
    assert server.erase("gaze") and not server.erase("nose")
    assert server.get("gaze") is None
    third = server.apply_changes()
    assert third.seq_num == 3 and third.erases == ["gaze"]
    server.clear()
    assert (
        server.apply_changes().erases == ["left_hand"]
        and server.fill_response(GetInteractiveMarkers.Response()).markers == []
    )


def test_protocol_feedback_moves_the_marker_and_a_second_client_waits_its_turn():
    server = MarkerProtocol()
    server.insert(target_marker("right_hand", "base_link", (0.1, -0.2, 0.0)))
    server.apply_changes()
    fb = feedback(xyz=(0.4, -0.2, 0.1))
    assert server.accept_feedback(fb, now_s=10.0)
    update = server.apply_changes()
    assert update.poses[0].pose.position.x == 0.4 and update.poses[0].header.frame_id == "base_link"
    other = feedback(xyz=(0.0, 0.0, 0.0))
    other.client_id = "/another_rviz"
    assert not server.accept_feedback(other, now_s=10.0 + CONFLICT_WINDOW_S / 2), "two operators do not fight"
    assert server.apply_changes() is None
    assert server.accept_feedback(other, now_s=10.0 + CONFLICT_WINDOW_S + 0.01)
    assert server.apply_changes().poses[0].pose.position.x == 0.0, "after the window the other client may drag"
    assert not server.accept_feedback(feedback(name="gaze"), now_s=20.0), "feedback for a marker not served"
    down = feedback(event=F.MOUSE_DOWN)
    down.client_id = "/another_rviz"
    assert server.accept_feedback(down, now_s=12.0) and server.apply_changes() is None, "no pose in a mouse-down"
