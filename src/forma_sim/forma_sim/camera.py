"""Offscreen RGB-D rendering of a MuJoCo camera (EGL, or OSMesa as a fallback).

One render pass gives both images: colour (rgb8) and metric depth along the optical axis
(32FC1 [m], NaN where nothing is within range, as REP-118 asks). The GL context belongs to the
thread that creates the camera, so create and use it in the render thread.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from forma_sim.errors import SimError

BACKENDS = ("egl", "osmesa")


@dataclasses.dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics [px] of the rendered image (no distortion)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float


def _gl_context_class(backend: str):
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        raise SimError(f"unknown render backend {backend!r}; available: {', '.join(BACKENDS)}")
    return GLContext


class RgbdCamera:
    """Renders one named camera of a model at a fixed resolution."""

    def __init__(
        self,
        model: mujoco.MjModel,
        camera: str,
        width: int,
        height: int,
        backend: str = "egl",
        min_range_m: float = 0.1,
        max_range_m: float = 6.0,
    ) -> None:
        if not (16 <= width <= 4096 and 16 <= height <= 4096):
            raise SimError(f"camera size {width}x{height} outside 16..4096 px")
        try:
            self.camera_id = model.camera(camera).id
        except KeyError:
            raise SimError(f"model has no camera {camera!r}") from None
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
            model.vis.global_.offheight = max(height, model.vis.global_.offheight)
        # No multisampling: resolving a multisampled depth buffer biases depth by ~0.3 %, and a
        # real RGB-D camera does not anti-alias either. Must be set before the MjrContext.
        model.vis.quality.offsamples = 0
        self.model = model
        self.width, self.height = width, height
        self.min_range_m, self.max_range_m = min_range_m, max_range_m
        try:
            self._gl = _gl_context_class(backend)(width, height)
            self._gl.make_current()
        except Exception as exc:  # missing libEGL / libOSMesa or no device
            raise SimError(
                f"cannot create a {backend} OpenGL context ({exc}); install libegl1 and "
                "libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa)"
            ) from exc
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR  # reversed Z: 1 near, 0 far
        self._scene = mujoco.MjvScene(model, maxgeom=2000)
        self._option = mujoco.MjvOption()
        self._perturb = mujoco.MjvPerturb()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._cam.fixedcamid = self.camera_id
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._rgb = np.empty((height, width, 3), np.uint8)
        self._zbuf = np.empty((height, width), np.float32)
        extent = model.stat.extent
        self._near = np.float32(model.vis.map.znear * extent)
        self._far = np.float32(model.vis.map.zfar * extent)

    def intrinsics(self) -> Intrinsics:
        fovy = math.radians(self.model.cam_fovy[self.camera_id])
        f = 0.5 * self.height / math.tan(fovy / 2)
        return Intrinsics(self.width, self.height, f, f, (self.width - 1) / 2, (self.height - 1) / 2)

    def render(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """Colour (H, W, 3) uint8 and depth (H, W) float32 [m] for the state in `data`."""
        self._gl.make_current()
        mujoco.mjv_updateScene(
            self.model, data, self._option, self._perturb, self._cam, mujoco.mjtCatBit.mjCAT_ALL, self._scene
        )
        mujoco.mjr_render(self._rect, self._scene, self._con)
        mujoco.mjr_readPixels(self._rgb, self._zbuf, self._rect, self._con)
        rgb = np.flipud(self._rgb).copy()
        depth = self._metric_depth(np.flipud(self._zbuf))
        return rgb, depth

    def _metric_depth(self, zbuf: np.ndarray) -> np.ndarray:
        # MuJoCo renders with reversed Z: invert its perspective projection to get eye depth,
        # z = (f n / (f - n)) / (d + (f + n) / (2 (f - n)) - 1/2), with n, f the clip planes.
        # The coefficients must be computed in float32, as OpenGL computed its projection
        # matrix: c is a small difference of numbers near 1/2, and float64 here would bias the
        # depth by ~0.3 %.
        near, far = self._near, self._far
        c = np.float32(0.5) * (far + near) / (far - near) - np.float32(0.5)
        d = far * near / (far - near)
        z = (np.float64(d) / (zbuf.astype(np.float64) + np.float64(c))).astype(np.float32)
        z[(z < self.min_range_m) | (z > self.max_range_m) | ~np.isfinite(z)] = np.nan
        return z

    def close(self) -> None:
        if self._con is not None:
            self._gl.make_current()
            self._con.free()
            self._con = None
            self._gl.free()
