"""The simulated head RGB-D camera: metric depth that matches the scene geometry, images the
size of camera_info, REP-103 optical frame orientation."""

from __future__ import annotations

import numpy as np
import pytest

from forma_sim.camera import RgbdCamera
from forma_sim.errors import SimError
from forma_sim.simulation import build_simulation


@pytest.fixture(scope="module")
def empty_world():
    sim = build_simulation(world="empty")
    sim.run(0.2)
    return sim


def expected_floor_depth(sim, camera: RgbdCamera) -> np.ndarray:
    """z-depth of the floor plane (z = 0) for every pixel, from the camera pose and intrinsics."""
    k = camera.intrinsics()
    cam = camera.camera_id
    position = sim.data.cam_xpos[cam]
    rotation = sim.data.cam_xmat[cam].reshape(3, 3)  # MuJoCo camera axes: x right, y up, looks along -z
    u, v = np.meshgrid(np.arange(k.width), np.arange(k.height))
    rays_cam = np.stack([(u - k.cx) / k.fx, -(v - k.cy) / k.fy, -np.ones_like(u, dtype=float)], axis=-1)
    rays_world = rays_cam @ rotation.T
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -position[2] / rays_world[..., 2]  # optical z of the ray is 1, so t is the z-depth
    t[(t <= 0) | ~np.isfinite(t)] = np.nan
    return t


def test_depth_matches_the_floor_plane(empty_world):
    camera = RgbdCamera(empty_world.model, "head_camera", 160, 120)
    try:
        rgb, depth = camera.render(empty_world.data)
        expected = expected_floor_depth(empty_world, camera)
    finally:
        camera.close()
    assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8
    assert depth.shape == (120, 160) and depth.dtype == np.float32
    both = np.isfinite(depth) & np.isfinite(expected) & (expected < 5.0)
    assert both.mean() > 0.5, "the camera, pitched down, should see mostly floor"
    error = np.abs(depth[both] - expected[both])
    assert np.median(error) < 0.005 and np.percentile(error, 99) < 0.03
    # REP-103: image rows grow downward, so the floor gets nearer toward the bottom of the image
    assert np.nanmean(depth[-10:]) < np.nanmean(depth[40:50])


def test_out_of_range_depth_is_nan(empty_world):
    camera = RgbdCamera(empty_world.model, "head_camera", 64, 48, max_range_m=1.6)
    try:
        _, depth = camera.render(empty_world.data)
    finally:
        camera.close()
    assert np.isnan(depth[:10]).all(), "far floor and sky are out of range"
    assert np.isfinite(depth[-5:]).all() and np.nanmax(depth) <= 1.6


def test_camera_sees_the_objects_on_the_table():
    sim = build_simulation(world="tabletop")
    sim.run(0.2)
    camera = RgbdCamera(sim.model, "head_camera", 320, 240)
    try:
        rgb, _ = camera.render(sim.data)
    finally:
        camera.close()
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    blue = (rgb[..., 2] > 150) & (rgb[..., 0] < 80)
    assert red.sum() > 50 and blue.sum() > 50, "red and blue cups should be in view"


def test_bad_camera_requests_are_refused(empty_world):
    with pytest.raises(SimError, match="no camera 'eye'"):
        RgbdCamera(empty_world.model, "eye", 64, 48)
    with pytest.raises(SimError, match="outside 16..4096"):
        RgbdCamera(empty_world.model, "head_camera", 8, 8)
    with pytest.raises(SimError, match="unknown render backend 'vulkan'"):
        RgbdCamera(empty_world.model, "head_camera", 64, 48, backend="vulkan")
