"""Drawing the face for the robot's curved display.

The face is drawn flat with OpenCV at the panel's resolution, then pre-warped for the panel's
curvature: the panel is bent horizontally (a cylinder section of `arc_deg`), so a column of the
panel at arc length s from the centre is seen from the front at x = R sin(s / R). Each panel
column shows the flat image's content at that x, and the face looks undistorted to a person in
front of the robot. Themes (colours, eye and mouth shapes) come from config/face/themes.yaml.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from collections.abc import Mapping

import cv2
import numpy as np
import yaml

from forma_face.errors import FaceError
from forma_face.expressions import FaceParams

EYE_SHAPES = ("ellipse", "rounded")
MOUTH_STYLES = ("line", "filled")
COLOR_KEYS = ("background", "eye_white", "iris", "pupil", "brow", "mouth", "mouth_inside", "blush")


@dataclasses.dataclass(frozen=True)
class Theme:
    name: str
    colors: Mapping[str, tuple[int, int, int]]  # RGB
    eye_shape: str = "ellipse"
    mouth_style: str = "filled"
    line_px_per_100: float = 1.6  # stroke width per 100 px of panel height


def load_themes(path: str | pathlib.Path) -> dict[str, Theme]:
    path = pathlib.Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FaceError(f"{path}: cannot read themes: {exc}") from exc
    if not isinstance(raw, Mapping) or not raw:
        raise FaceError(f"{path}: expected theme name -> {{colors, eye_shape, mouth_style}}")
    themes = {}
    for name, entry in raw.items():
        where = f"{path.name}: {name}"
        if not isinstance(entry, Mapping) or "colors" not in entry:
            raise FaceError(f"{where}: needs `colors:`")
        colors = {}
        for key in COLOR_KEYS:
            value = entry["colors"].get(key)
            if not (
                isinstance(value, list) and len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value)
            ):
                raise FaceError(f"{where}: colors.{key} must be [r, g, b] with 0..255, got {value!r}")
            colors[key] = tuple(value)
        eye_shape = entry.get("eye_shape", "ellipse")
        mouth_style = entry.get("mouth_style", "filled")
        if eye_shape not in EYE_SHAPES:
            raise FaceError(f"{where}: eye_shape {eye_shape!r}; valid: {', '.join(EYE_SHAPES)}")
        if mouth_style not in MOUTH_STYLES:
            raise FaceError(f"{where}: mouth_style {mouth_style!r}; valid: {', '.join(MOUTH_STYLES)}")
        themes[str(name)] = Theme(str(name), colors, eye_shape, mouth_style)
    return themes


class FaceRenderer:
    """Renders FaceParams to RGB frames of a curved panel."""

    def __init__(self, width_px: int, height_px: int, arc_deg: float, theme: Theme) -> None:
        if not (64 <= width_px <= 4096 and 32 <= height_px <= 4096):
            raise FaceError(f"panel {width_px}x{height_px} px outside 64..4096 x 32..4096")
        if not (math.isfinite(arc_deg) and 0.0 <= arc_deg <= 270.0):
            raise FaceError(f"arc_deg {arc_deg} outside 0..270 (0 = a flat panel)")
        self.width, self.height, self.theme = width_px, height_px, theme
        self.arc_deg = arc_deg
        self.map_x, self.map_y = self._warp_maps(width_px, height_px, arc_deg)
        self._flat = np.zeros((height_px, width_px, 3), np.uint8)
        self.line = max(1, int(round(theme.line_px_per_100 * height_px / 100)))

    @staticmethod
    def _warp_maps(w: int, h: int, arc_deg: float):
        u = np.arange(w, dtype=np.float64) - (w - 1) / 2
        if arc_deg <= 0:
            x = u
        else:
            theta = math.radians(arc_deg)
            radius = w / theta  # panel pixels along the arc
            x = radius * np.sin(u / radius)
            x *= ((w - 1) / 2) / (radius * math.sin((w - 1) / 2 / radius))  # use the whole flat width
        map_x = np.tile((x + (w - 1) / 2).astype(np.float32), (h, 1))
        map_y = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
        return map_x, map_y

    def render(self, p: FaceParams) -> np.ndarray:
        """One RGB frame (H, W, 3) uint8, pre-warped for the panel."""
        return cv2.remap(
            self.draw_flat(p),
            self.map_x,
            self.map_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=self.theme.colors["background"],
        )

    def draw_flat(self, p: FaceParams) -> np.ndarray:
        """The face as a person in front should see it (before the warp); reuses one buffer."""
        img = self._flat
        img[:] = self.theme.colors["background"]
        w, h = self.width, self.height
        for side in (-1, 1):
            self._eye(img, p, side, (w / 2 + side * 0.22 * w, 0.42 * h))
        self._mouth(img, p, (w / 2, 0.78 * h))
        return img

    # --- parts ---------------------------------------------------------------------------------
    def _eye(self, img, p: FaceParams, side: int, centre) -> None:
        c = self.theme.colors
        w, h = self.width, self.height
        cx, cy = centre
        rx = 0.085 * w
        ry_full = 0.17 * h
        ry = max(1.0, ry_full * max(p.eye_open, 0.0))
        if p.blush > 0.01:
            blush = tuple(
                int(b * p.blush + bg * (1 - p.blush)) for b, bg in zip(c["blush"], c["background"], strict=True)
            )
            cv2.ellipse(
                img,
                (int(cx + side * 0.03 * w), int(cy + 1.3 * ry_full)),
                (int(0.45 * rx), int(0.06 * h)),
                0,
                0,
                360,
                blush,
                -1,
                cv2.LINE_AA,
            )
        # eye white, clipped by the lids; drawn in a box around the eye only (full-frame masks
        # would cost most of the frame time at 1280x480)
        x0, y0 = max(int(cx - rx) - 2, 0), max(int(cy - ry) - 2, 0)
        x1, y1 = min(int(cx + rx) + 3, w), min(int(cy + ry) + 3, h)
        roi = img[y0:y1, x0:x1]
        ex, ey = cx - x0, cy - y0  # the eye's centre in the box
        eye = np.zeros(roi.shape[:2], np.uint8)
        if self.theme.eye_shape == "ellipse":
            cv2.ellipse(eye, (int(ex), int(ey)), (int(rx), int(ry)), 0, 0, 360, 255, -1, cv2.LINE_AA)
        else:
            r = int(min(rx, ry) * 0.6)
            bx0, by0, bx1, by1 = int(ex - rx), int(ey - ry), int(ex + rx), int(ey + ry)
            cv2.rectangle(eye, (bx0 + r, by0), (bx1 - r, by1), 255, -1)
            cv2.rectangle(eye, (bx0, by0 + r), (bx1, by1 - r), 255, -1)
            for corner in ((bx0 + r, by0 + r), (bx1 - r, by0 + r), (bx0 + r, by1 - r), (bx1 - r, by1 - r)):
                cv2.circle(eye, corner, r, 255, -1, cv2.LINE_AA)
        if p.squint > 0.01:  # lower lid rises
            lid_y = int(ey + ry - 2 * ry * 0.55 * p.squint)
            eye[max(lid_y, 0) :, :] = 0
        mask = eye > 0
        roi[mask] = c["eye_white"]
        # iris and pupil move with the gaze but stay inside the eye
        gx = ex + p.gaze_x * 0.45 * rx
        gy = ey - p.gaze_y * 0.35 * ry_full
        r_iris = int(0.55 * min(rx, ry_full))
        disc = np.zeros_like(eye)
        cv2.circle(disc, (int(gx), int(gy)), r_iris, 255, -1, cv2.LINE_AA)
        roi[(disc > 0) & mask] = c["iris"]
        disc[:] = 0
        cv2.circle(disc, (int(gx), int(gy)), max(2, int(0.5 * r_iris * p.pupil_size)), 255, -1, cv2.LINE_AA)
        roi[(disc > 0) & mask] = c["pupil"]
        hx, hy = int(gx - 0.25 * r_iris), int(gy - 0.3 * r_iris)
        if 0 <= hy < mask.shape[0] and 0 <= hx < mask.shape[1] and mask[hy, hx]:
            cv2.circle(roi, (hx, hy), max(2, int(0.16 * r_iris)), c["eye_white"], -1, cv2.LINE_AA)
        # brow: inner end toward the nose; angle > 0 raises the inner end
        lift = p.brow_height + side * p.brow_asym * 0.5
        by = cy - ry_full * (1.25 + 0.35 * lift)
        inner = (cx - side * 0.8 * rx, by - p.brow_angle * 0.25 * ry_full)
        outer = (cx + side * 0.9 * rx, by + p.brow_angle * 0.12 * ry_full)
        mid = ((inner[0] + outer[0]) / 2, (inner[1] + outer[1]) / 2 - 0.08 * ry_full)
        pts = np.array([inner, mid, outer], np.int32)
        cv2.polylines(img, [pts], False, c["brow"], 2 * self.line, cv2.LINE_AA)

    def _mouth(self, img, p: FaceParams, centre) -> None:
        c = self.theme.colors
        w, h = self.width, self.height
        cx, cy = centre
        half = (0.06 + 0.14 * p.mouth_width) * w * (1 - 0.4 * p.mouth_round)
        curve = p.mouth_curve * 0.07 * h
        skew = p.mouth_skew * 0.04 * h
        opening = p.mouth_open * 0.16 * h
        n = 24
        xs = np.linspace(-1, 1, n)
        # centre line: a smile (curve > 0) puts the corners above the middle (image y grows down)
        centre_y = cy - curve * (xs**2 - 0.5) - skew * xs
        upper_y = centre_y - opening * 0.35 * (1 - xs**2)
        lower_y = centre_y + opening * (1 - xs**2)
        px = cx + xs * half
        if opening < 1.5 or self.theme.mouth_style == "line":
            pts = np.stack([px, centre_y], axis=1).astype(np.int32)
            cv2.polylines(img, [pts], False, c["mouth"], 2 * self.line, cv2.LINE_AA)
            return
        poly = np.concatenate([np.stack([px, upper_y], 1), np.stack([px[::-1], lower_y[::-1]], 1)]).astype(np.int32)
        cv2.fillPoly(img, [poly], c["mouth_inside"], cv2.LINE_AA)
        cv2.polylines(img, [poly], True, c["mouth"], self.line + 1, cv2.LINE_AA)
