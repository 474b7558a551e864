"""The face texture of the simulated person (config/worlds/assets/person_face.png), drawn here
with OpenCV so that the asset is reproducible and no photo is needed: a skin-tone oval with hair,
brows, eyes, a shaded nose and a mouth. A Haar frontal-face cascade keys on the light-dark
pattern of brows/eyes against forehead, cheeks and the bridge of the nose, so those contrasts are
drawn as a real face has them (soft, not cartoon outlines). `python -m forma_sim.face_texture
<out.png>` rewrites the asset; a unit test checks that the committed file is this drawing."""

from __future__ import annotations

import pathlib
import sys

import cv2
import numpy as np

WIDTH_PX, HEIGHT_PX = 192, 240  # the head's front face is 0.16 m x 0.20 m: the same aspect
SKIN_BGR = (120, 150, 200)
HAIR_BGR = (30, 40, 55)


def draw_face() -> np.ndarray:
    """HEIGHT_PX x WIDTH_PX x 3 BGR uint8: the front of the head, eyes at ~45 % of the height."""
    w, h = WIDTH_PX, HEIGHT_PX
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = HAIR_BGR
    cx = w // 2
    # face oval, forehead under the hairline
    cv2.ellipse(img, (cx, int(h * 0.56)), (int(w * 0.42), int(h * 0.42)), 0, 0, 360, SKIN_BGR, -1)
    cv2.ellipse(img, (cx, int(h * 0.18)), (int(w * 0.46), int(h * 0.16)), 0, 180, 360, HAIR_BGR, -1)
    # soft shading: cheeks lighter, temples darker
    shade = np.zeros((h, w), np.float32)
    cv2.ellipse(shade, (cx, int(h * 0.58)), (int(w * 0.30), int(h * 0.30)), 0, 0, 360, 1.0, -1)
    shade = cv2.GaussianBlur(shade, (0, 0), w * 0.08)
    img = np.clip(img.astype(np.float32) * (0.85 + 0.25 * shade[:, :, None]), 0, 255).astype(np.uint8)
    eye_y = int(h * 0.46)
    dx = int(w * 0.19)
    for side in (-1, 1):
        ex = cx + side * dx
        # eye sockets: a darker soft patch
        socket = np.zeros((h, w), np.float32)
        cv2.ellipse(socket, (ex, eye_y - 3), (int(w * 0.13), int(h * 0.065)), 0, 0, 360, 1.0, -1)
        socket = cv2.GaussianBlur(socket, (0, 0), 3)
        img = np.clip(img.astype(np.float32) * (1.0 - 0.55 * socket[:, :, None]), 0, 255).astype(np.uint8)
        # brow
        cv2.ellipse(img, (ex, eye_y - int(h * 0.065)), (int(w * 0.11), int(h * 0.022)), 0, 180, 360, (25, 30, 45), 6)
        # eye: white, iris, pupil
        cv2.ellipse(img, (ex, eye_y), (int(w * 0.075), int(h * 0.025)), 0, 0, 360, (170, 175, 185), -1)
        cv2.circle(img, (ex, eye_y), int(h * 0.024), (40, 45, 60), -1)
        cv2.circle(img, (ex, eye_y), int(h * 0.011), (10, 10, 10), -1)
    # nose: a light bridge with darker flanks and nostrils
    top, tip = eye_y + 4, int(h * 0.64)
    for side in (-1, 1):
        cv2.line(img, (cx + side * int(w * 0.045), top + 10), (cx + side * int(w * 0.06), tip - 4), (85, 110, 155), 3)
        nostril = (int(w * 0.022), int(h * 0.011))
        cv2.ellipse(img, (cx + side * int(w * 0.035), tip), nostril, 0, 0, 360, (50, 60, 95), -1)
    cv2.line(img, (cx, top), (cx, tip - 8), (150, 180, 225), 5)
    # mouth
    mouth_y = int(h * 0.76)
    cv2.ellipse(img, (cx, mouth_y), (int(w * 0.15), int(h * 0.025)), 0, 0, 360, (70, 70, 150), -1)
    cv2.line(img, (cx - int(w * 0.14), mouth_y), (cx + int(w * 0.14), mouth_y), (40, 40, 90), 2)
    return cv2.GaussianBlur(img, (3, 3), 0)


def write_face(path: pathlib.Path) -> None:
    if not cv2.imwrite(str(path), draw_face()):
        raise OSError(f"could not write {path}")


if __name__ == "__main__":
    write_face(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "person_face.png"))
