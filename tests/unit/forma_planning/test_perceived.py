"""perception/objects into the planner's scene (forma_planning.perceived): boxes from the message's
frame into base_link by the given transform, grown by the margin; the object the hand goes to left
out; a malformed box refused with its name. Real message classes, no ROS running."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest

from forma_interfaces.msg import DetectedObject, DetectedObjectArray
from forma_planning import PlanRequestError
from forma_planning.perceived import distance_to, nearest, perceived_scene, scene_in_base


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
