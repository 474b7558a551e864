"""Perception's pure core against the simulator: the tabletop rendered by the head camera, the
camera pose from forward kinematics of the joint positions (as the node does it), compared with
the simulator's ground truth (which the pipeline never sees). Plus input checks, frames and the
tracker."""

from __future__ import annotations

import cv2
import mujoco
import numpy as np
import pytest

from forma_description import expand_description
from forma_perception.errors import PerceptionError
from forma_perception.objects import Detection
from forma_perception.pipeline import ObjectPipeline
from forma_perception.rgbd import CameraModel, check_sizes, decode_color, decode_depth, points_in_camera
from forma_perception.robot_frames import RobotFrames
from forma_perception.tracker import FORGET_AFTER, Tracker
from forma_sim.camera import RgbdCamera
from forma_sim.simulation import build_simulation
from tests.support.onnx_models import make_detector_model

OBJECTS = {  # body name -> (label, colour, size along the box axes [m]) as tabletop.xml makes them
    "red_cup": ("cup", "red", (0.076, 0.076, 0.095)),
    "blue_cup": ("cup", "blue", (0.076, 0.076, 0.095)),
    "green_box": ("box", "green", (0.06, 0.06, 0.06)),
    "yellow_box": ("box", "yellow", (0.05, 0.08, 0.12)),
    "orange_ball": ("ball", "orange", (0.067, 0.067, 0.067)),
    "purple_ball": ("ball", "purple", (0.07, 0.07, 0.07)),
}


@pytest.fixture(scope="module")
def tabletop():
    """The standing robot before the table: a rendered RGB-D frame, the camera pose by FK, and
    the objects' true positions in base_link."""
    sim = build_simulation("tabletop")
    sim.run(0.5)
    camera = RgbdCamera(sim.model, "head_camera", 320, 240)
    rgb, depth = camera.render(sim.data)
    k = camera.intrinsics()
    frames = RobotFrames(expand_description())
    frames.update(sim.robot.joint_names, sim.joint_positions())
    t_base_camera = frames.transform("base_link", "head_camera_color_optical_frame")
    position, wxyz = sim.base_pose()
    rotation = np.zeros(9)
    mujoco.mju_quat2Mat(rotation, wxyz)
    rotation = rotation.reshape(3, 3)
    truth = {name: rotation.T @ (sim.data.body(name).xpos - position) for name in OBJECTS}
    model = CameraModel(320, 240, k.fx, k.fy, k.cx, k.cy)
    return rgb, depth.astype(np.float32), model, t_base_camera, truth


def match(detections, truth):
    """Each true object -> the nearest detection (and its distance)."""
    return {
        name: min(((np.linalg.norm(d.detection.position - p), d) for d in detections), key=lambda x: x[0])
        for name, p in truth.items()
    }


def test_every_tabletop_object_is_found_labelled_and_placed(tabletop):
    rgb, depth, camera, t_base_camera, truth = tabletop
    result = ObjectPipeline().process(rgb, depth, camera, t_base_camera)
    assert result.plane is not None and result.plane.normal[2] > 0.95
    assert len(result.objects) == len(OBJECTS), [o.detection.label for o in result.objects]
    for name, (error_m, found) in match(result.objects, truth).items():
        label, colour, size = OBJECTS[name]
        d = found.detection
        assert error_m < 0.015, f"{name}: {error_m * 100:.1f} cm off"
        assert (d.label, d.color) == (label, colour), f"{name} seen as {d.color} {d.label}"
        assert np.allclose(sorted(d.size[:2]), sorted(size[:2]), atol=0.015) and abs(d.size[2] - size[2]) < 0.015


def test_depth_noise_and_holes_like_a_real_sensor(tabletop):
    """Structured-light noise (sigma ~ 1.5 mm x z^2) and 3 % dropped pixels: still every object,
    within 1.5 cm."""
    rgb, depth, camera, t_base_camera, truth = tabletop
    rng = np.random.default_rng(7)
    noisy = depth + rng.normal(0.0, 0.0015, depth.shape).astype(np.float32) * depth**2
    noisy[rng.random(depth.shape) < 0.03] = np.nan
    result = ObjectPipeline().process(rgb, noisy, camera, t_base_camera)
    assert len(result.objects) == len(OBJECTS)
    for name, (error_m, found) in match(result.objects, truth).items():
        assert error_m < 0.015, f"{name}: {error_m * 100:.1f} cm off"
        assert found.detection.label == OBJECTS[name][0]


def test_track_ids_stay_with_their_objects(tabletop):
    rgb, depth, camera, t_base_camera, _ = tabletop
    pipeline = ObjectPipeline()
    ids = [sorted(o.id for o in pipeline.process(rgb, depth, camera, t_base_camera).objects) for _ in range(5)]
    assert all(frame == ids[0] for frame in ids) and len(set(ids[0])) == len(OBJECTS)


def test_no_support_plane_means_no_objects(tabletop):
    rgb, depth, camera, t_base_camera, _ = tabletop
    result = ObjectPipeline().process(rgb, np.full_like(depth, np.nan), camera, t_base_camera)
    assert result.plane is None and result.objects == [] and result.valid_depth_share == 0.0
    assert result.plane_outline.shape == (0, 3)


def test_the_support_plane_outline_is_the_table_top_under_the_objects(tabletop):
    """The outline the planner gets (perception/support_plane): a few points on the table top's
    height, around every object standing on it."""
    rgb, depth, camera, t_base_camera, truth = tabletop
    result = ObjectPipeline().process(rgb, depth, camera, t_base_camera)
    outline = result.plane_outline
    assert 3 <= len(outline) <= 40, len(outline)
    top_z = truth["red_cup"][2] - OBJECTS["red_cup"][2][2] / 2  # the cup stands on the top
    np.testing.assert_allclose(outline[:, 2], top_z, atol=0.015)
    np.testing.assert_allclose(outline @ result.plane.normal, result.plane.offset, atol=1e-9)  # on the plane
    polygon = (outline[:, :2] * 1000.0).astype(np.float32)
    for name, position in truth.items():
        assert cv2.pointPolygonTest(polygon, (float(position[0] * 1000), float(position[1] * 1000)), False) > 0, name


# --- input checks -------------------------------------------------------------------------------
def test_images_decode_and_bad_ones_are_refused_with_the_reason():
    bgr = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)
    assert decode_color(bgr.tobytes(), 1, 2, 6, "bgr8").tolist() == [[[3, 2, 1], [6, 5, 4]]]
    millimetres = np.array([[500, 0, 65000]], "<u2")
    depth = decode_depth(millimetres.tobytes(), 1, 3, 6, "16UC1", False)
    assert depth[0, 0] == pytest.approx(0.5) and np.isnan(depth[0, 1]) and np.isnan(depth[0, 2])
    with pytest.raises(PerceptionError, match="colour encoding 'yuv422'"):
        decode_color(bytes(4), 1, 2, 4, "yuv422")
    with pytest.raises(PerceptionError, match="depth encoding 'mono8'"):
        decode_depth(bytes(2), 1, 2, 2, "mono8", False)
    with pytest.raises(PerceptionError, match="needs 12 bytes, got 11"):
        decode_color(bytes(11), 2, 2, 6, "rgb8")
    camera = CameraModel.from_camera_info(2, 1, [1.0, 0, 0.5, 0, 1.0, 0.5, 0, 0, 1])
    with pytest.raises(PerceptionError, match="image sizes disagree"):
        check_sizes(np.zeros((1, 2, 3)), np.zeros((2, 2)), camera)
    with pytest.raises(PerceptionError, match="not a camera"):
        CameraModel.from_camera_info(2, 1, [0.0] * 9)


def test_points_follow_the_optical_frame_convention():
    camera = CameraModel(3, 3, 2.0, 2.0, 1.0, 1.0)
    points = points_in_camera(np.full((3, 3), 2.0, np.float32), camera)
    assert points[1, 1].tolist() == [0.0, 0.0, 2.0]  # the principal point is straight ahead
    assert points[1, 2, 0] == pytest.approx(1.0) and points[2, 1, 1] == pytest.approx(1.0)  # right, down


def test_robot_frames_are_consistent_and_unknown_frames_named():
    frames = RobotFrames(expand_description())
    frames.update(["neck_pitch", "no_such_joint"], [0.3, float("nan")])
    a = frames.transform("torso", "head_camera_color_optical_frame")
    b = frames.transform("head_camera_color_optical_frame", "torso")
    assert np.allclose(a @ b, np.eye(4), atol=1e-9)
    with pytest.raises(PerceptionError, match="'nowhere' is not in the robot description"):
        frames.transform("torso", "nowhere")
    with pytest.raises(PerceptionError, match="not a URDF"):
        RobotFrames("<robot")


def test_tracker_keeps_ids_through_small_moves_and_forgets_the_gone():
    def det(x, label="cup"):
        return Detection(label, "red", 0.9, np.array([x, 0.0, 0.0]), 0.0, np.ones(3) * 0.07, 100)

    tracker = Tracker()
    first = {t.detection.position[0]: t.id for t in tracker.update([det(0.0), det(0.3)])}
    moved = {t.detection.position[0]: t.id for t in tracker.update([det(0.02), det(0.31)])}
    assert moved[0.02] == first[0.0] and moved[0.31] == first[0.3]
    far = tracker.update([det(0.2)])  # 12 cm from anything: a new object
    assert far[0].id not in first.values()
    for _ in range(FORGET_AFTER + 1):
        tracker.update([])
    assert tracker.tracks == []


# --- the learned-detector backend (ONNX Runtime) ------------------------------------------------
def test_onnx_detector_runs_a_user_model_and_lifts_its_boxes_to_3d(tabletop, tmp_path):
    from forma_perception.onnx_detector import OnnxDetector

    rgb, depth, camera, t_base_camera, truth = tabletop
    t_camera_base = np.linalg.inv(t_base_camera)

    def box_of(centre, radius, half_height):  # the object's image box, as fractions
        corners = [centre + np.array([dx, dy, dz]) for dx in (-radius, radius) for dy in (-radius, radius)
                   for dz in (-half_height, half_height)]  # fmt: skip
        uv = []
        for c in corners:
            x, y, z = (t_camera_base @ np.append(c, 1.0))[:3]
            uv.append((camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy))
        uv = np.array(uv)
        return [uv[:, 0].min() / camera.width, uv[:, 1].min() / camera.height,
                uv[:, 0].max() / camera.width, uv[:, 1].max() / camera.height]  # fmt: skip

    red, blue = box_of(truth["red_cup"], 0.038, 0.0475), box_of(truth["blue_cup"], 0.038, 0.0475)
    model = tmp_path / "detector.onnx"
    make_detector_model(model, [red, blue], [0.9, 0.3], [0, 0])  # the blue cup scores below threshold
    detector = OnnxDetector(model, ["mug"], score_threshold=0.5)
    result = ObjectPipeline(detector=detector).process(rgb, depth, camera, t_base_camera)
    assert [(o.detection.label, o.detection.color) for o in result.objects] == [("mug", "red")]
    error = np.linalg.norm(result.objects[0].detection.position - truth["red_cup"])
    assert error < 0.03, f"{error * 100:.1f} cm from the cup's centre"

    broken = tmp_path / "broken.onnx"
    make_detector_model(broken, [red], [0.9], [0], output_names=("bbox", "scores", "labels"))
    with pytest.raises(PerceptionError, match="missing \\['boxes'\\]"):
        OnnxDetector(broken, ["mug"])
    with pytest.raises(PerceptionError, match="does not exist"):
        OnnxDetector(tmp_path / "nothing.onnx", ["mug"])
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(PerceptionError, match="not a loadable ONNX model"):
        OnnxDetector(tmp_path / "junk.onnx", ["mug"])
    with pytest.raises(PerceptionError, match="needs its labels"):
        OnnxDetector(model, [])


def test_a_brightly_lit_orange_is_still_orange():
    """Light that clips the red channel slides the hue toward yellow (measured on a rendered orange
    cup: hue 21-23 where clipped, 15 where not): the unclipped pixels name the colour."""
    import cv2

    from forma_perception.objects import colour_name

    hsv = np.array([[15, 230, 200]] * 30 + [[23, 200, 255]] * 70, np.uint8)  # 70 % clipped
    rgb = cv2.cvtColor(hsv.reshape(-1, 1, 3), cv2.COLOR_HSV2RGB).reshape(-1, 3)
    assert colour_name(rgb) == "orange"
    yellow = cv2.cvtColor(np.array([[[28, 220, 230]]] * 30 + [[[30, 200, 255]]] * 70, np.uint8), cv2.COLOR_HSV2RGB)
    assert colour_name(yellow.reshape(-1, 3)) == "yellow"
