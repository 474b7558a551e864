"""Perception speed and accuracy on the simulated tabletop: the object pipeline's latency per
RGB-D frame at 640x480 and 320x240 (with a structured-light depth-noise model, a new noise draw
per frame), beside the bare cost of turning the depth image into robot-frame points (the step any
RGB-D pipeline pays); and the median position error against the simulator's ground truth.
People: the face pipeline's latency per frame with the person at 0.9, 1.6 and 2.4 m in the
`people` world, beside the same cascade run on the whole image (no depth-guided search area)."""

from __future__ import annotations

import time

import mujoco
import numpy as np


def _scene(width: int, height: int):
    from forma_description import expand_description
    from forma_perception.rgbd import CameraModel
    from forma_perception.robot_frames import RobotFrames
    from forma_sim.camera import RgbdCamera
    from forma_sim.simulation import build_simulation

    sim = build_simulation("tabletop")
    sim.run(0.5)
    camera = RgbdCamera(sim.model, "head_camera", width, height)
    rgb, depth = camera.render(sim.data)
    k = camera.intrinsics()
    frames = RobotFrames(expand_description())
    frames.update(sim.robot.joint_names, sim.joint_positions())
    position, wxyz = sim.base_pose()
    rotation = np.zeros(9)
    mujoco.mju_quat2Mat(rotation, wxyz)
    rotation = rotation.reshape(3, 3)
    names = ("red_cup", "blue_cup", "green_box", "yellow_box", "orange_ball", "purple_ball")
    truth = np.array([rotation.T @ (sim.data.body(n).xpos - position) for n in names])
    model = CameraModel(width, height, k.fx, k.fy, k.cx, k.cy)
    return rgb, depth.astype(np.float32), model, frames.transform("base_link", "head_camera_color_optical_frame"), truth


def _run(width: int, height: int, frames: int):
    from forma_perception.pipeline import ObjectPipeline
    from forma_perception.rgbd import points_in_frame

    rgb, depth, camera, t_base_camera, truth = _scene(width, height)
    rng = np.random.default_rng(11)
    pipeline = ObjectPipeline()
    times, base_times, errors = [], [], []
    for _ in range(frames):
        noisy = depth + rng.normal(0.0, 0.0015, depth.shape).astype(np.float32) * depth**2
        t0 = time.perf_counter()
        result = pipeline.process(rgb, noisy, camera, t_base_camera)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        points_in_frame(noisy, camera, t_base_camera)
        base_times.append(time.perf_counter() - t0)
        found = np.array([o.detection.position for o in result.objects]).reshape(-1, 3)
        for p in truth:
            if len(found):
                errors.append(float(np.min(np.linalg.norm(found - p, axis=1))))
    return np.array(times[2:]) * 1e3, np.array(base_times[2:]) * 1e3, np.array(errors)


def _run_people(width: int, height: int, frames: int):
    """Latencies [ms] of PeoplePipeline.process, and of the cascade on the whole image at the
    same magnification (what searching only where depth is at face height saves)."""
    import cv2

    from forma_perception.people import FACE_WIDTH_M, MIN_NEIGHBOURS, SCALE_STEP, WINDOW_PX, PeoplePipeline
    from tests.support.scenarios import PeopleScene

    scene = PeopleScene(width, height)
    rng = np.random.default_rng(12)
    times, whole = [], []
    try:
        for distance in (0.9, 1.6, 2.4):
            rgb, depth, t_base_camera, _ = scene.place(distance, 0.1, 0.2)
            pipeline = PeoplePipeline()
            for _ in range(frames):
                noisy = depth + rng.normal(0.0, 0.0015, depth.shape).astype(np.float32) * depth**2
                t0 = time.perf_counter()
                pipeline.process(rgb, noisy, scene.model, t_base_camera)
                times.append(time.perf_counter() - t0)
            scale = WINDOW_PX / (scene.model.fx * FACE_WIDTH_M / pipeline.detector.max_range_m)
            for _ in range(3):
                t0 = time.perf_counter()
                grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None, fx=scale, fy=scale)
                pipeline.detector.cascade.detectMultiScale2(
                    cv2.equalizeHist(grey), scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS
                )
                whole.append(time.perf_counter() - t0)
    finally:
        scene.close()
    return np.array(times) * 1e3, np.array(whole) * 1e3


def bench_perception(frames: int = 40) -> dict:
    from tests.bench.run_bench import figure

    p320, whole320 = _run_people(320, 240, frames // 2)
    p640, whole640 = _run_people(640, 480, frames // 2)
    whole = "baseline: the same cascade on the whole image, no depth-guided search area"

    t640, base640, err640 = _run(640, 480, frames)
    t320, base320, _ = _run(320, 240, frames)
    floor = "baseline: depth image -> robot-frame points alone"
    return {
        "perception_latency_p50_ms_640": figure(
            float(np.percentile(t640, 50)), "ms", float(np.percentile(base640, 50)),
            f"object pipeline per frame; {floor}", lower_is_better=True,
        ),
        "perception_latency_p99_ms_640": figure(
            float(np.percentile(t640, 99)), "ms", note="object pipeline per frame; no same-run baseline",
            lower_is_better=True, goal=50.0,
        ),
        "perception_latency_p99_ms_320": figure(
            float(np.percentile(t320, 99)), "ms", float(np.percentile(base320, 99)), floor, lower_is_better=True
        ),
        "perception_fps_640": figure(
            1e3 / float(np.percentile(t640, 50)), "fps", note="1 / the p50 latency (a camera runs 15-30 fps); no "
            "same-run baseline",
        ),
        "perception_pos_err_median_cm": figure(
            float(np.median(err640)) * 100, "cm",
            note="6 tabletop objects at 640x480 with depth noise vs simulator truth; no same-run baseline",
            lower_is_better=True, goal=1.5,
        ),
        "perception_people_latency_ms": figure(
            float(np.percentile(p320, 50)), "ms", float(np.percentile(whole320, 50)),
            f"faces per frame at 320x240, person at 0.9/1.6/2.4 m (p99 {np.percentile(p320, 99):.1f} ms); {whole}",
            lower_is_better=True,
        ),
        "perception_people_latency_p99_ms_640": figure(
            float(np.percentile(p640, 99)), "ms", float(np.percentile(whole640, 50)),
            f"faces per frame at 640x480 (p50 {np.percentile(p640, 50):.1f} ms); {whole} (its p50)",
            lower_is_better=True,
        ),
    }  # fmt: skip
