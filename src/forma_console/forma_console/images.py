"""Camera and face images for the browser: sensor_msgs/Image fields -> small RGB thumbnails.

The browser needs a glance, not the full stream: frames are decimated to at most `max_width`
pixels wide (integer steps, no resampling cost) before viser JPEG-encodes them. Depth is shown
as a colour ramp (near = warm, far = cool, holes black) over a fixed range so colours keep their
meaning from frame to frame.
"""

from __future__ import annotations

import numpy as np

DEPTH_RANGE_M = (0.2, 4.0)


class ImageFormatError(ValueError):
    """An image message the console cannot show (the reason is the message)."""


def _rows(data: bytes, height: int, width: int, step: int, bytes_per_pixel: int) -> np.ndarray:
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"empty image {width}x{height}")
    if step < width * bytes_per_pixel or len(data) != height * step:
        raise ImageFormatError(
            f"{width}x{height} image with step {step} needs {height * step} bytes "
            f"(>= {width * bytes_per_pixel} per row), got {len(data)}"
        )
    return np.frombuffer(data, np.uint8).reshape(height, step)[:, : width * bytes_per_pixel]


def color_to_rgb(data: bytes, height: int, width: int, step: int, encoding: str) -> np.ndarray:
    """rgb8 / bgr8 / rgba8 / bgra8 / mono8 -> H x W x 3 uint8."""
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}.get(encoding)
    if channels is None:
        raise ImageFormatError(f"colour encoding {encoding!r} not shown (rgb8, bgr8, rgba8, bgra8, mono8)")
    pixels = _rows(data, height, width, step, channels).reshape(height, width, channels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    rgb = pixels[:, :, :3]
    return rgb[:, :, ::-1] if encoding.startswith("bgr") else rgb


def depth_to_rgb(data: bytes, height: int, width: int, step: int, encoding: str, is_bigendian: bool) -> np.ndarray:
    """32FC1 [m] / 16UC1 [mm] -> H x W x 3 uint8 colour ramp; NaN, inf and zero are black."""
    if encoding == "32FC1":
        dtype, scale = np.dtype(">f4" if is_bigendian else "<f4"), 1.0
    elif encoding == "16UC1":
        dtype, scale = np.dtype(">u2" if is_bigendian else "<u2"), 1e-3
    else:
        raise ImageFormatError(f"depth encoding {encoding!r} not shown (32FC1 metres, 16UC1 millimetres)")
    rows = _rows(data, height, width, step, dtype.itemsize)
    depth_m = np.ascontiguousarray(rows).view(dtype).reshape(height, width).astype(np.float32) * scale
    near, far = DEPTH_RANGE_M
    valid = np.isfinite(depth_m) & (depth_m > 0)
    t = np.clip((np.where(valid, depth_m, far) - near) / (far - near), 0.0, 1.0)
    rgb = np.stack([1.0 - t, 1.0 - np.abs(2 * t - 1), t], axis=2)  # red near, green middle, blue far
    rgb = (rgb * 255).astype(np.uint8)
    rgb[~valid] = 0
    return rgb


def thumbnail(rgb: np.ndarray, max_width: int) -> np.ndarray:
    """Every k-th pixel so the width is at most max_width."""
    step = max(1, -(-rgb.shape[1] // max_width))
    return np.ascontiguousarray(rgb[::step, ::step])
