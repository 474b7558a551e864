"""perception/objects and perception/support_plane into the planner's scene (forma_planning.perceived):
boxes from the message's frame into base_link by the given transform, grown by the margin; the object
the hand goes to left out (at every pose of the task skills' pick); a malformed box refused with its
name; the table top's outline a lowered support plane with its extent. Real message classes, no ROS
running."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest
from geometry_msgs.msg import Point32, PolygonStamped

from forma_interfaces.msg import DetectedObject, DetectedObjectArray
from forma_planning import Box, PlanRequestError
from forma_planning.perceived import (
    distance_to,
    goal_object,
    near_target,
    nearest,
    perceived_plane,
    perceived_scene,
    scene_in_base,
    support_plane_in_base,
)


def _object(oid: str, label: str, center, size, yaw_rad: float = 0.0) -> DetectedObject:
    obj = DetectedObject(id=oid, label=label, score=0.9)
    obj.pose.position.x, obj.pose.position.y, obj.pose.position.z = center
    obj.pose.orientation.z, obj.pose.orientation.w = math.sin(yaw_rad / 2), math.cos(yaw_rad / 2)
    obj.size_m.x, obj.size_m.y, obj.size_m.z = size
    return obj


def _array(frame: str, *objects: DetectedObject, stamp_s: float = 12.5) -> DetectedObjectArray:
    msg = DetectedObjectArray(objects=list(objects))
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), int(round((stamp_s % 1) * 1e9))
    return msg


# torso 0.3 m above base_link, turned 90 degrees about z: a point (x, y, z) in torso is (-y, x, z + 0.3) in base
BASE_FROM_TORSO = pin.SE3(pin.utils.rpyToMatrix(0.0, 0.0, math.pi / 2), np.array([0.0, 0.0, 0.3])).homogeneous


def test_boxes_go_into_base_link_grown_by_the_margin():
    msg = _array("torso", _object("obj-1", "box", (0.0, -0.4, -0.5), (0.04, 0.2, 0.1), yaw_rad=0.3))
    perceived = perceived_scene(msg)
    assert perceived.frame_id == "torso" and perceived.stamp_s == pytest.approx(12.5)

    scene, goal = scene_in_base(perceived, BASE_FROM_TORSO, 0.02, np.array([0.0, 0.5, 0.0]), 0.08)

    assert goal == ()
    (box,) = scene.boxes
    assert box.name == "obj-1"
    np.testing.assert_allclose(box.center_in_base_m, (0.4, 0.0, -0.2), atol=1e-12)
    np.testing.assert_allclose(box.size_m, (0.08, 0.24, 0.14))
    x, y, z, w = box.orientation_in_base_xyzw
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    assert yaw == pytest.approx(0.3 + math.pi / 2)
    # the box's own axes turned with it: its long side (its y, 0.24 m) runs along (-cos 0.3, -sin 0.3) in base_link
    assert distance_to(box, np.array([0.4 - 0.11 * math.cos(0.3), -0.11 * math.sin(0.3), -0.2])) == 0.0
    assert distance_to(box, np.array([0.4, 0.11, -0.2])) == pytest.approx(0.11 * math.cos(0.3) - 0.04)


def test_the_object_the_hand_goes_to_is_not_an_obstacle():
    cup = _object("obj-2", "cup", (0.45, -0.2, -0.14), (0.08, 0.08, 0.12))
    wall = _object("obj-3", "box", (0.35, -0.2, -0.14), (0.03, 0.15, 0.2))
    perceived = perceived_scene(_array("base_link", cup, wall))
    palm_beside_cup = np.array([0.45, -0.2 + 0.04 + 0.06, -0.12])  # 6 cm off the cup's side

    scene, goal = scene_in_base(perceived, np.eye(4), 0.02, palm_beside_cup, 0.08)
    # the wall is within 8 cm of the palm's target too (8.9 cm from it, the cup 6 cm): it stays an obstacle
    assert goal == ("obj-2",) and [b.name for b in scene.boxes] == ["obj-3"]
    np.testing.assert_allclose(scene.boxes[0].size_m, (0.07, 0.19, 0.24))

    assert nearest(perceived, np.eye(4), palm_beside_cup) == ("obj-2", pytest.approx(0.06))
    scene, goal = scene_in_base(perceived, np.eye(4), 0.02, palm_beside_cup, 0.05)  # the cup is 6 cm away: it stays
    assert goal == () and [b.name for b in scene.boxes] == ["obj-2", "obj-3"]


def test_repeated_or_missing_ids_get_unique_names():
    a = _object("obj-1", "cup", (0.4, 0.0, 0.0), (0.05, 0.05, 0.1))
    b = _object("obj-1", "cup", (0.4, 0.2, 0.0), (0.05, 0.05, 0.1))
    c = _object("", "ball", (0.4, -0.2, 0.0), (0.05, 0.05, 0.05))
    scene, _ = scene_in_base(perceived_scene(_array("base_link", a, b, c)), np.eye(4), 0.0, np.zeros(3), 0.0)
    assert [box.name for box in scene.boxes] == ["obj-1", "obj-1#1", "ball"]


@pytest.mark.parametrize(
    ("center", "size", "says"),
    [
        ((math.nan, 0.0, 0.0), (0.1, 0.1, 0.1), "non-finite"),
        ((0.4, 0.0, 0.0), (0.1, -0.1, 0.1), "three positive extents"),
    ],
)
def test_a_malformed_box_is_refused_with_its_name(center, size, says):
    msg = _array("base_link", _object("obj-9", "cup", center, size))
    with pytest.raises(PlanRequestError, match=f"obj-9.*{says}"):
        scene_in_base(perceived_scene(msg), np.eye(4), 0.0, np.zeros(3), 0.0)


def test_a_quaternion_that_is_not_a_unit_one_is_refused():
    obj = _object("obj-4", "box", (0.4, 0.0, 0.0), (0.1, 0.1, 0.1))
    obj.pose.orientation.w = 0.5
    with pytest.raises(PlanRequestError, match="obj-4.*not a unit quaternion"):
        scene_in_base(perceived_scene(_array("base_link", obj)), np.eye(4), 0.0, np.zeros(3), 0.0)


def test_the_pick_takes_the_cup_as_the_goal_from_the_pre_grasp_pose_on_and_a_neighbour_stays_an_obstacle():
    """The task skills' pick of the sim's red cup (left hand): from its pre-grasp pose (behind and
    above the cup) to the lift, the cup is the hand's goal with the planner's default margin; the
    orange ball beside it (19 cm away on the table) is an obstacle throughout."""
    from forma_description.frames import RobotFrames
    from forma_description.xacro_expand import expand_description
    from forma_planning.node import PlannerParams
    from forma_tasks import grasp_plan
    from forma_tasks.skills import LIFT_M, raised

    frames = RobotFrames(expand_description())
    palm_to_hand = pin.SE3(frames.transform("left_palm", "left_hand"))
    cup = _object("obj-1", "cup", (0.37, 0.22, -0.15), (0.076, 0.076, 0.095))
    ball = _object("obj-2", "ball", (0.45, 0.05, -0.16), (0.067, 0.067, 0.067))
    perceived = perceived_scene(_array("base_link", cup, ball))
    plan = grasp_plan.approach("cup", np.array([0.37, 0.22, -0.15]), 0.0, "left", palm_to_hand, 0.0)
    margin = PlannerParams().target_object_margin_m
    for pose in [plan.pre, *plan.path(), raised(plan.grasp, LIFT_M)]:
        scene, goal = scene_in_base(perceived, np.eye(4), 0.02, pose.translation, margin)
        assert goal == ("obj-1",) and [b.name for b in scene.boxes] == ["obj-2"], pose.translation


def test_goal_object_is_the_nearest_within_the_margin_or_none():
    boxes = [Box("a", (0.5, 0.0, 0.0), (0.1, 0.1, 0.1)), Box("b", (0.5, 0.3, 0.0), (0.1, 0.1, 0.1))]
    assert goal_object(boxes, np.array([0.5, 0.2, 0.0]), 0.2) == 1  # 5 cm from b, 15 cm from a
    assert goal_object(boxes, np.array([0.5, 0.0, 0.3]), 0.2) is None  # 25 cm above a
    assert goal_object([], np.zeros(3), 0.2) is None


def _outline(frame: str, points, stamp_s: float = 3.0) -> PolygonStamped:
    msg = PolygonStamped()
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), int(round((stamp_s % 1) * 1e9))
    msg.polygon.points = [Point32(x=float(x), y=float(y), z=float(z)) for x, y, z in points]
    return msg


def test_the_support_plane_outline_becomes_a_lowered_slab_in_base_link_and_joins_the_scene():
    # a table top 0.5 m below the torso (0.2 m below base_link), 0.3-1.0 m ahead, 1.2 m wide; in torso
    # (turned 90 degrees) ahead is -y and left is +x
    corners_in_base = [(0.3, -0.6), (1.0, -0.6), (1.0, 0.6), (0.3, 0.6), (0.65, 0.0)]
    in_torso = [(y, -x, -0.5) for x, y in corners_in_base]
    plane = perceived_plane(_outline("torso", in_torso))
    assert plane.frame_id == "torso" and plane.stamp_s == pytest.approx(3.0) and plane.points_m.shape == (5, 3)

    table = support_plane_in_base(plane, BASE_FROM_TORSO, 0.02)

    np.testing.assert_allclose(table.normal_in_base, (0.0, 0.0, 1.0), atol=1e-12)
    assert table.offset_m == pytest.approx(-0.22)  # the top at -0.2 m, lowered 2 cm
    np.testing.assert_allclose(table.extent_center_xy_m, (0.65, 0.0), atol=1e-12)
    np.testing.assert_allclose(table.extent_size_xy_m, (0.7, 1.2), atol=1e-12)
    cup = _object("obj-1", "cup", (0.0, -0.5, -0.45), (0.08, 0.08, 0.1))
    scene, _ = scene_in_base(perceived_scene(_array("torso", cup)), BASE_FROM_TORSO, 0.02, np.zeros(3), 0.0, (table,))
    assert [b.name for b in scene.boxes] == ["obj-1"] and scene.planes == (table,)


def test_no_outline_is_no_plane_and_a_malformed_one_is_refused():
    assert support_plane_in_base(perceived_plane(_outline("base_link", [])), np.eye(4), 0.02) is None
    with pytest.raises(PlanRequestError, match="non-finite"):
        support_plane_in_base(
            perceived_plane(_outline("base_link", [(0, 0, 0), (1, 0, 0), (0, math.nan, 0)])), np.eye(4), 0.0
        )
    wall = [(0.5, -0.5, -0.5), (0.5, 0.5, -0.5), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5)]  # upright: not a support
    with pytest.raises(PlanRequestError, match="not up"):
        support_plane_in_base(perceived_plane(_outline("base_link", wall)), np.eye(4), 0.0)


def test_every_box_near_the_target_is_named():
    """What the planner leaves out when the target pose itself touches them: every box within the
    margin of the target (the cup seen twice), not one further away."""
    near = _object("obj-1", "cup", (0.5, 0.0, 0.0), (0.08, 0.08, 0.1))
    twice = _object("obj-2", "cup", (0.5, 0.1, 0.0), (0.08, 0.08, 0.1))
    far = _object("obj-3", "ball", (0.5, 0.4, 0.0), (0.06, 0.06, 0.06))
    perceived = perceived_scene(_array("base_link", near, twice, far))
    assert near_target(perceived, np.eye(4), np.array([0.5, 0.0, 0.12]), 0.15) == ("obj-1", "obj-2")
