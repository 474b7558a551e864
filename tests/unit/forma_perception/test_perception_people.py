"""People perception's pure core against the simulator: the `people` world's person rendered by
the head camera (the robot in its look-ahead stand), the camera pose by forward kinematics (as the
node does it), the face found and placed against the simulator's ground truth (which the
pipeline never sees). Plus the depth lifting with holes, the face texture asset, and the TF maths
the node uses on a ROS 2 install."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from forma_perception.errors import PerceptionError
from forma_perception.people import FaceDetector, PeoplePipeline, lift_face
from forma_perception.pipeline import ObjectPipeline
from forma_perception.rgbd import CameraModel
from forma_perception.tf_frames import detection_frames, matrix_from_transform, quaternion_xyzw, transform_from_matrix
from forma_sim.face_texture import draw_face
from forma_sim.scene import worlds_dir
from tests.support.scenarios import PeopleScene


@pytest.fixture(scope="module")
def scene():
    s = PeopleScene()
    yield s
    s.close()


def test_the_person_is_found_and_placed_within_10_cm_with_a_stable_id(scene):
    rgb, depth, t_base_camera, truth = scene.place(1.6, 0.2, math.radians(15))
    rng = np.random.default_rng(3)
    pipeline = PeoplePipeline()
    ids = []
    for _ in range(3):  # depth noise of a structured-light sensor, a new draw per frame
        noisy = depth + rng.normal(0.0, 0.0015, depth.shape).astype(np.float32) * depth**2
        noisy[rng.random(depth.shape) < 0.03] = np.nan
        people = pipeline.process(rgb, noisy, scene.model, t_base_camera)
        assert len(people) == 1, [p.face.box_px for p in people]
        error = np.linalg.norm(people[0].face.position - truth)
        assert error < 0.10, f"face {error * 100:.1f} cm from the truth"
        ids.append(people[0].id)
    assert ids == [ids[0]] * 3 and ids[0].startswith("person-")
    # the search looked at the person's part of the image only, not the whole frame
    x, y, w, h = pipeline.last_search.roi_px
    assert w * h < 0.5 * scene.model.width * scene.model.height


def test_near_and_far_people_and_no_person_at_all(scene):
    detector = FaceDetector()
    for distance in (0.9, 2.3):
        rgb, depth, t_base_camera, truth = scene.place(distance, -0.1, 0.0)
        faces, _ = detector.detect(rgb, depth, scene.model, t_base_camera)
        assert len(faces) == 1 and np.linalg.norm(faces[0].position - truth) < 0.10, distance
    # the person beyond the search range: nothing at face height within range, nothing searched
    rgb, depth, t_base_camera, _ = scene.place(5.5, 0.0, 0.0)
    faces, search = detector.detect(rgb, depth, scene.model, t_base_camera)
    assert faces == [] and search.roi_px is None
    # no depth at all (a dead sensor): nothing searched, no error
    faces, search = detector.detect(rgb, np.full_like(depth, np.nan), scene.model, t_base_camera)
    assert faces == [] and search.roi_px is None


def test_the_person_is_not_an_object(scene):
    rgb, depth, t_base_camera, _ = scene.place(1.2, 0.0, 0.0)
    result = ObjectPipeline().process(rgb, depth, scene.model, t_base_camera)
    assert result.objects == []


def test_lifting_takes_the_median_of_valid_depth_and_refuses_too_little():
    camera = CameraModel(100, 100, 100.0, 100.0, 50.0, 50.0)
    depth = np.full((100, 100), 4.0, np.float32)  # background behind the face
    depth[40:60, 40:60] = 1.0  # the face, 20 px = 0.2 m at 1 m
    rng = np.random.default_rng(0)
    holes = rng.random(depth.shape) < 0.5
    depth[holes] = np.nan
    depth[44, 45] = 0.2  # a speck of a closer return
    t_base_camera = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0.5], [0, 0, 0, 1]], float)  # z up
    face = lift_face((37, 37, 26, 26), depth, camera, t_base_camera, 0.5)
    assert face is not None and face.position == pytest.approx([1.0, 0.0, 0.5], abs=1e-6)
    depth[:] = np.nan
    assert lift_face((37, 37, 26, 26), depth, camera, t_base_camera, 0.5) is None
    # a 2 m wide "face": not a face
    assert lift_face((0, 0, 100, 100), np.full((100, 100), 2.0, np.float32), camera, t_base_camera, 0.5) is None
    with pytest.raises(PerceptionError, match="people_max_range_m 10.0 outside"):
        FaceDetector(10.0)


def test_the_committed_face_texture_is_the_drawing_and_a_face():
    committed = cv2.imread(str(worlds_dir() / "assets" / "person_face.png"))
    drawn = draw_face()
    assert committed is not None and np.array_equal(committed, drawn), "rerun python -m forma_sim.face_texture"
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    grey = cv2.copyMakeBorder(cv2.cvtColor(drawn, cv2.COLOR_BGR2GRAY), 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=90)
    assert len(cascade.detectMultiScale(grey, 1.1, 4)) == 1


def test_tf_transforms_round_trip_and_broken_ones_are_refused():
    rng = np.random.default_rng(1)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        t = rng.normal(size=3)
        m = matrix_from_transform(t, q)
        assert np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-9) and np.linalg.det(m[:3, :3]) > 0
        t2, q2 = transform_from_matrix(m)
        assert np.allclose(t2, t) and np.allclose(matrix_from_transform(t2, q2), m, atol=1e-9)
    # a quarter turn about z maps x to y
    m = matrix_from_transform((1.0, 2.0, 3.0), (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4)))
    assert m @ np.array([1.0, 0.0, 0.0, 1.0]) == pytest.approx([1.0, 3.0, 3.0, 1.0])
    assert quaternion_xyzw(np.diag([1.0, -1.0, -1.0])) == pytest.approx((1.0, 0.0, 0.0, 0.0))
    with pytest.raises(PerceptionError, match="norm 2.0000, expected 1"):
        matrix_from_transform((0, 0, 0), (0, 0, 0, 2.0), "TF head -> base_link")
    with pytest.raises(PerceptionError, match="not a finite transform"):
        matrix_from_transform((0, float("nan"), 0), (0, 0, 0, 1.0))
    frames = detection_frames(
        "torso", "head", [("obj-3", (0.5, 0.1, -0.2), (0, 0, 0, 1))], [("person-1", (1.5, 0, 0.4))]
    )
    assert [(f.parent, f.child) for f in frames] == [("torso", "object/obj-3"), ("head", "person/person-1")]
    assert frames[1].translation == (1.5, 0.0, 0.4) and frames[1].rotation_xyzw == (0.0, 0.0, 0.0, 1.0)
