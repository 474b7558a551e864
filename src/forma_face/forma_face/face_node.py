"""The face node: the animated face on the robot's curved display.

Inputs: face/expression (named expression and/or valence-arousal), face/visemes (lip sync for an
utterance the interaction node is about to play), perception/people and face/gaze_target (where
to look). Outputs: face/image (rgb8 frames, rendered only while someone subscribes),
face/current_expression (latched: what the face shows now), and the frames on the panel itself
through SDL2 (pygame) when `display` is window or fullscreen.

Bad input is refused with an error in the log and changes nothing: the face keeps running with
what it showed before.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from sensor_msgs.msg import Image

from forma_common import qos
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_face.animator import FaceAnimator, gaze_from_point
from forma_face.errors import FaceError
from forma_face.expressions import expression_params
from forma_face.renderer import FaceRenderer, load_themes
from forma_face.speech import VisemeTrack
from forma_interfaces.msg import Expression, PersonArray, Visemes

DISPLAYS = ("none", "window", "fullscreen")
IDLE_PERIOD_S = 0.5  # the animation tick while nobody watches (no face/image subscriber, no panel) [s]


def default_themes_path() -> str:
    from forma_description.paths import share_dir

    return str(share_dir("forma_face") / "themes.yaml")


def point_in_optical_frame(frame_id: str, x: float, y: float, z: float) -> tuple[float, float, float]:
    """A point near the head, in the camera's optical axes (z forward, x right, y down).

    Optical frames (names ending in `optical_frame`) are used as they are; any other frame is
    taken as a REP-103 body frame at the head (x forward, y left, z up) and rotated.
    """
    if frame_id.endswith("optical_frame"):
        return x, y, z
    return -y, -z, x


@dataclasses.dataclass(frozen=True)
class FaceParams:
    """The panel, the look and the rates of the face."""

    width_px: int = param(1280, "panel width", unit="px", low=64, high=4096)
    height_px: int = param(480, "panel height", unit="px", low=32, high=4096)
    arc_deg: float = param(60.0, "horizontal bend of the curved panel; 0 = flat", unit="deg", low=0.0, high=270.0)
    theme: str = param("default", "theme name in themes_file")
    themes_file: str = param("", "themes YAML; empty = the shipped config/face/themes.yaml")
    frame_rate_hz: float = param(30.0, "animation and display rate", unit="Hz", low=0.5, high=120.0)
    image_rate_hz: float = param(
        5.0, "face/image publish rate while subscribed (the browser view shows it)", unit="Hz", low=0.5, high=120.0
    )
    image_width_px: int = param(
        0,
        "face/image width, its height in the panel's proportions (the console shows 480 px): rendered at that size; "
        "0 = the panel's",
        unit="px",
        low=0,
        high=4096,
    )
    display: str = param(
        "none", "show the frames through SDL2 (pygame) in a window or fullscreen; none = not at all", choices=DISPLAYS
    )
    idle: bool = param(True, "blinks, micro-saccades and breathing")
    seed: int = param(0, "random seed of the idle motion")
    gaze_timeout_s: float = param(2.0, "look ahead again this long after the last person / gaze target", unit="s")
    gaze_max_angle_rad: float = param(0.6, "angle from the camera axis at which the eyes reach the rim", unit="rad")


class FaceNode(Node):
    """Animates, renders and shows the face."""

    PARAMS = (FaceParams,)

    def __init__(self, node_name: str = "face", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, FaceParams, error=FaceError)
        self.frame_rate, self.image_rate = p.frame_rate_hz, p.image_rate_hz
        self.display = p.display
        try:
            themes = load_themes(p.themes_file or default_themes_path())
        except FaceError as exc:
            raise FaceError(f"parameter themes_file={p.themes_file!r}: {exc}") from None
        if p.theme not in themes:
            raise FaceError(f"parameter theme={p.theme!r} not in the themes file; have: {', '.join(themes)}")
        self.renderer = FaceRenderer(p.width_px, p.height_px, p.arc_deg, themes[p.theme])
        # face/image at the size its viewer shows (a 1280x480 frame took ~25 ms to render here,
        # a 480x180 one 5x less); the panel, if any, keeps its own size
        self.image_renderer = self.renderer
        if 0 < p.image_width_px != p.width_px:
            height = max(1, round(p.height_px * p.image_width_px / p.width_px))
            self.image_renderer = FaceRenderer(p.image_width_px, height, p.arc_deg, themes[p.theme])
        self.animator = FaceAnimator(seed=p.seed, idle=p.idle)
        self.gaze_timeout = p.gaze_timeout_s
        self.gaze_max_angle = p.gaze_max_angle_rad
        self.last_gaze_s: float | None = None
        self.frames_rendered = 0
        self.refused = 0
        self.screen = self._open_display() if self.display != "none" else None

        self.image_pub = self.create_publisher(Image, "face/image", 2)
        self.current_pub = self.create_publisher(Expression, "face/current_expression", qos.LATCHED)
        self.create_subscription(Expression, "face/expression", self._on_expression, 10)
        self.create_subscription(Visemes, "face/visemes", self._on_visemes, 10)
        self.create_subscription(PersonArray, "perception/people", self._on_people, 5)
        self.create_subscription(PointStamped, "face/gaze_target", self._on_gaze_target, 5)
        self.next_image_s = 0.0
        self.frame_timer = self.create_timer(1.0 / self.frame_rate, self._tick)
        self._publish_current(Expression(expression="neutral", confidence=1.0))
        self.get_logger().info(
            f"face: {self.renderer.width}x{self.renderer.height} px, arc {self.renderer.arc_deg:g} deg, "
            f"theme {p.theme!r}, display {self.display}"
        )

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _refuse(self, what: str, exc: Exception) -> None:
        self.refused += 1
        self.get_logger().error(f"{what} refused: {exc}")

    # --- inputs ---------------------------------------------------------------------------------
    def _on_expression(self, msg: Expression) -> None:
        try:
            params = expression_params(msg.expression, msg.valence, msg.arousal, msg.confidence)
        except FaceError as exc:
            self._refuse("face/expression", exc)
            return
        self.animator.set_expression(params, self._now())
        self._publish_current(msg)

    def _publish_current(self, msg: Expression) -> None:
        shown = Expression(
            expression=msg.expression.strip().lower(),
            valence=msg.valence,
            arousal=msg.arousal,
            confidence=msg.confidence,
        )
        shown.header.stamp = self.get_clock().now().to_msg()
        self.current_pub.publish(shown)

    def _on_visemes(self, msg: Visemes) -> None:
        try:
            track = VisemeTrack.checked(msg.visemes, msg.start_s, msg.duration_s)
        except FaceError as exc:
            self._refuse("face/visemes", exc)
            return
        start = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.animator.speak(track, start if start > 0 else self._now())

    def _on_people(self, msg: PersonArray) -> None:
        faces = [p for p in msg.people if p.face_detected]
        if not faces:
            return
        person = max(faces, key=lambda p: p.score)
        q = person.face_position_m
        self._look_at(msg.header.frame_id, q.x, q.y, q.z)

    def _on_gaze_target(self, msg: PointStamped) -> None:
        q = msg.point
        if not all(math.isfinite(v) for v in (q.x, q.y, q.z)):
            self._refuse("face/gaze_target", FaceError("the point has NaN or infinite coordinates"))
            return
        self._look_at(msg.header.frame_id, q.x, q.y, q.z)

    def _look_at(self, frame_id: str, x: float, y: float, z: float) -> None:
        ox, oy, oz = point_in_optical_frame(frame_id, x, y, z)
        if not (all(math.isfinite(v) for v in (ox, oy, oz)) and oz > 0.05):
            return  # behind or at the camera: nothing sensible to look at
        self.animator.look_at(*gaze_from_point(ox, oy, oz, self.gaze_max_angle))
        self.last_gaze_s = self._now()

    # --- output ---------------------------------------------------------------------------------
    def _tick(self) -> None:
        now = self._now()
        if self.last_gaze_s is not None and now - self.last_gaze_s > self.gaze_timeout:
            self.animator.look_at(0.0, 0.0)
            self.last_gaze_s = None
        params = self.animator.params(now)
        subscribed = self.image_pub.get_subscription_count() > 0
        # tick at the rate of whoever looks (each executor wake-up costs ~0.5 ms here): the panel
        # at frame rate, face/image alone at image rate, nobody slowly; the animation is a function
        # of time, so a slower tick skips frames and never slows the face down
        if self.screen is not None:
            period = int(1e9 / self.frame_rate)
        elif subscribed:
            period = int(1e9 / min(self.frame_rate, self.image_rate))
        else:
            period = int(IDLE_PERIOD_S * 1e9)
        if self.frame_timer.timer_period_ns != period:
            self.frame_timer.timer_period_ns = period
        publish = subscribed and now >= self.next_image_s - 0.5 / self.frame_rate  # (a tick a little early counts)
        if not publish and self.screen is None:
            return  # nobody looks: spare the CPU
        frame = self.renderer.render(params) if self.screen is not None else None
        if publish:
            image = frame if frame is not None and self.image_renderer is self.renderer else None
            if image is None:
                image = self.image_renderer.render(params)
            self.next_image_s = max(self.next_image_s + 1.0 / self.image_rate, now)
            self.image_pub.publish(self._image_msg(image))
        self.frames_rendered += 1
        if frame is not None:
            self._show(frame)

    def _image_msg(self, frame: np.ndarray) -> Image:
        msg = Image(height=frame.shape[0], width=frame.shape[1], encoding="rgb8", step=frame.shape[1] * 3)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "face_display"
        msg.data = frame.tobytes()
        return msg

    # --- the panel (SDL2 through pygame) ---------------------------------------------------------
    def _open_display(self):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError as exc:
            raise FaceError("display needs pygame (make setup installs it)") from exc
        pygame.display.init()
        size = (self.renderer.width, self.renderer.height)
        flags = pygame.FULLSCREEN | pygame.NOFRAME if self.display == "fullscreen" else 0
        try:
            screen = pygame.display.set_mode(size, flags)
        except pygame.error as exc:
            raise FaceError(
                f"cannot open the {self.display} display ({exc}); is DISPLAY or the KMS console set?"
            ) from exc
        pygame.display.set_caption("Forma face")
        pygame.mouse.set_visible(False)
        self.get_logger().info(f"display: SDL video driver {pygame.display.get_driver()!r}")
        return screen

    def _show(self, frame: np.ndarray) -> None:
        import pygame

        pygame.event.pump()  # keep the window responsive; the face ignores input
        surface = pygame.image.frombuffer(frame.tobytes(), (frame.shape[1], frame.shape[0]), "RGB")
        self.screen.blit(surface, (0, 0))
        pygame.display.flip()

    def destroy_node(self) -> None:
        if self.screen is not None:
            import pygame

            pygame.display.quit()
            self.screen = None
        super().destroy_node()


def main(args=None) -> None:
    """Run the face node alone: `ros2 run forma_face face_node`."""
    run_node(FaceNode, (FaceError,), args)
