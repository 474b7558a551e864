"""Domain randomization of the tabletop scene's looks, drawn from a seed: which colour each object
is, the light, the table's and the floor's colours, and a small error in where the head camera
sits. A policy trained on many looks does not learn one look; the objects' places are the layout's
(forma_tasks.tabletop.place_objects), the instructions' words are the paraphrases'.
Colours are the words perception uses (forma_perception.objects.colour_name): each drawn colour
is checked to be named as intended after its brightness jitter, so the expert, the instruction and
the judge agree on what "the green cup" is. The six objects wear the six colours, one each, so a
colour names one object. `cup_colours` limits the cups' colours: training keeps some colour-cup
pairs out (green and yellow are seen on boxes and balls only), and the evaluation shows them.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from forma_perception.objects import colour_name

PALETTE = {  # the world's own colours (config/worlds/tabletop.xml), one per word
    "red": (0.85, 0.12, 0.10),
    "orange": (1.0, 0.50, 0.05),
    "yellow": (0.95, 0.80, 0.10),
    "green": (0.15, 0.70, 0.25),
    "blue": (0.12, 0.30, 0.85),
    "purple": (0.55, 0.20, 0.75),
}
CUPS = ("red_cup", "blue_cup")
OTHERS = ("green_box", "orange_ball", "yellow_box", "purple_ball")  # forma_tasks.tabletop.LAYOUT's rest
TRAIN_CUP_COLOURS = ("red", "blue", "orange", "purple")  # green and yellow cups: never in training
ALL_COLOURS = tuple(PALETTE)


@dataclasses.dataclass(frozen=True)
class Appearance:
    object_rgb: dict[str, tuple[float, float, float]]  # body -> colour
    object_colour: dict[str, str]  # body -> its colour's word
    light_scale: float  # the sun's diffuse light, times the world's
    light_direction_offset: tuple[float, float]  # added to the sun's direction's x, y
    ambient: float  # the headlight's ambient
    table_rgb: tuple[float, float, float]
    floor_tint: tuple[float, float, float]  # multiplies the floor's checker texture
    camera_offset_m: tuple[float, float, float]  # the head camera moved in its body's frame
    camera_tilt_rad: tuple[float, float, float]  # and turned (roll, pitch, yaw)

    @property
    def cup_colour(self) -> dict[str, str]:
        return {body: self.object_colour[body] for body in CUPS}

    def describe(self) -> str:
        objects = ", ".join(f"{body} {colour}" for body, colour in self.object_colour.items())
        return f"{objects}; light x{self.light_scale:.2f}, ambient {self.ambient:.2f}"


def draw(seed: int, cup_colours: tuple[str, ...] = TRAIN_CUP_COLOURS) -> Appearance:
    """The seed's looks: two cups in two different colours of `cup_colours`, the other objects in
    the other colours, the rest jittered."""
    unknown = sorted(set(cup_colours) - set(PALETTE))
    if unknown or len(set(cup_colours)) < len(CUPS):
        raise ValueError(f"cup colours {list(cup_colours)}: at least {len(CUPS)} of {', '.join(PALETTE)}")
    rng = np.random.default_rng([seed, 0xC0105])
    words = rng.choice(sorted(set(cup_colours)), size=len(CUPS), replace=False)
    others = rng.permutation([c for c in ALL_COLOURS if c not in words])
    object_rgb, object_colour = {}, {}
    for body, word in zip(CUPS + OTHERS, [*words, *others], strict=True):
        object_rgb[body] = _jittered(PALETTE[str(word)], str(word), rng)
        object_colour[body] = str(word)
    table = np.array((0.55, 0.42, 0.30)) * rng.uniform(0.6, 1.3) + rng.uniform(-0.06, 0.06, 3)
    return Appearance(
        object_rgb=object_rgb,
        object_colour=object_colour,
        light_scale=float(rng.uniform(0.75, 1.25)),
        light_direction_offset=tuple(float(v) for v in rng.uniform(-0.4, 0.4, 2)),
        ambient=float(rng.uniform(0.25, 0.45)),
        table_rgb=tuple(float(v) for v in np.clip(table, 0.05, 0.95)),
        floor_tint=tuple(float(v) for v in rng.uniform(0.7, 1.3, 3)),
        camera_offset_m=tuple(float(v) for v in rng.uniform(-0.002, 0.002, 3)),
        camera_tilt_rad=tuple(float(v) for v in rng.uniform(-0.005, 0.005, 3)),
    )


def _jittered(rgb, word: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """The colour 0.8-1.15 times as bright, channels jittered, still named `word` by perception."""
    for _ in range(50):
        c = np.clip(np.asarray(rgb) * rng.uniform(0.8, 1.15) + rng.uniform(-0.04, 0.04, 3), 0.0, 1.0)
        if colour_name((c * 255.0).astype(np.uint8)[None]) == word:
            return tuple(float(v) for v in c)
    return tuple(float(v) for v in rgb)


def apply(appearance: Appearance, sim) -> None:
    """Set the looks on a tabletop simulation's model (before the episode starts)."""
    m = sim.model
    for body, rgb in appearance.object_rgb.items():
        m.geom_rgba[m.body(body).geomadr[0], :3] = rgb
    sun = m.light("sun").id
    m.light_diffuse[sun] = m.light_diffuse[sun] * appearance.light_scale
    m.light_dir[sun, :2] += appearance.light_direction_offset
    m.vis.headlight.ambient[:] = appearance.ambient
    for geom in range(m.ngeom):
        name = m.geom(geom).name
        if name.startswith("table_"):
            m.geom_rgba[geom, :3] = appearance.table_rgb
    m.mat_rgba[m.material("floor").id, :3] = appearance.floor_tint
    camera = m.camera("head_camera").id
    m.cam_pos[camera] += appearance.camera_offset_m
    turn = np.zeros(4)
    mujoco.mju_euler2Quat(turn, np.asarray(appearance.camera_tilt_rad, float), "xyz")
    q = np.zeros(4)
    mujoco.mju_mulQuat(q, m.cam_quat[camera].copy(), turn)
    m.cam_quat[camera] = q
    mujoco.mj_forward(m, sim.data)
