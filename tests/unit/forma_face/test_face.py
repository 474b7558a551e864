"""The face as people see it, measured on rendered frames: every named expression looks different,
transitions are gradual, the eyes follow a moving person, the mouth follows espeak-ng's phonemes
(closed on p/b/m, open on open vowels) rather than the loudness, and bad input is refused."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from forma_face.animator import TRANSITION_S, FaceAnimator, gaze_from_point
from forma_face.errors import FaceError
from forma_face.expressions import EXPRESSIONS, expression_params
from forma_face.face_node import default_themes_path, point_in_optical_frame
from forma_face.renderer import FaceRenderer, load_themes
from forma_face.speech import VISEMES, Espeak, VisemeTrack, viseme_of

FPS = 30.0
CHANGED_LEVELS = 40  # a pixel "changed" when a channel moves by more than this (of 255)
REQUIRED_NAMES = (
    "neutral",
    "happy",
    "sad",
    "surprised",
    "angry",
    "afraid",
    "disgusted",
    "thinking",
    "listening",
    "speaking",
    "sleepy",
    "confused",
)


@pytest.fixture(scope="module")
def theme():
    return load_themes(default_themes_path())["default"]


@pytest.fixture(scope="module")
def renderer(theme):
    return FaceRenderer(640, 240, 60.0, theme)


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1) > CHANGED_LEVELS).mean())


def test_every_named_expression_is_distinct(renderer):
    assert set(REQUIRED_NAMES) <= set(EXPRESSIONS)
    frames = {name: renderer.render(expression_params(name)) for name in REQUIRED_NAMES}
    for a, b in itertools.combinations(REQUIRED_NAMES, 2):
        # at least 1 % of the panel (about 1500 px at 640x240) looks different
        assert changed_fraction(frames[a], frames[b]) > 0.01, f"{a} and {b} look the same"


def test_valence_and_arousal_shape_the_face(renderer):
    pleasant, unpleasant = expression_params("", valence=0.9), expression_params("", valence=-0.9)
    assert pleasant.mouth_curve > 0.5 > -0.5 > unpleasant.mouth_curve  # smile vs frown
    assert expression_params("", arousal=0.9).eye_open > expression_params("", arousal=-0.9).eye_open
    assert changed_fraction(renderer.render(pleasant), renderer.render(unpleasant)) > 0.01
    # confidence scales the intensity toward neutral
    assert 0 < expression_params("happy", confidence=0.5).mouth_curve < EXPRESSIONS["happy"].mouth_curve


@pytest.mark.parametrize(
    "start,end",
    [("neutral", "surprised"), ("angry", "happy"), ("sad", "afraid"), ("sleepy", "speaking"), ("happy", "confused")],
)
def test_transitions_are_gradual(renderer, start, end):
    """At 30 fps no frame changes more than half of what a hard cut would, the change spreads over
    several frames, and the face arrives exactly at the target."""
    animator = FaceAnimator(idle=False)
    animator.set_expression(EXPRESSIONS[start], 0.0, duration_s=1e-3)
    before = renderer.render(animator.params(0.5))
    animator.set_expression(EXPRESSIONS[end], 1.0)
    cut = changed_fraction(before, renderer.render(EXPRESSIONS[end]))
    previous, steps = before, []
    for k in range(1, int(2 * TRANSITION_S * FPS)):
        frame = renderer.render(animator.params(1.0 + k / FPS))
        steps.append(changed_fraction(previous, frame))
        previous = frame
    assert max(steps) <= 0.5 * cut, f"a frame jumps {max(steps) / cut:.0%} of the way"
    assert sum(s > 0.02 * cut for s in steps) >= 5
    assert changed_fraction(previous, renderer.render(EXPRESSIONS[end])) == 0.0


def pupil_offset_px(frame: np.ndarray, theme, renderer: FaceRenderer) -> float:
    """Horizontal position of the left-of-image eye's pupil, from the frame's pixels."""
    pupil = np.all(frame == np.array(theme.colors["pupil"], np.uint8), axis=-1)
    pupil[:, renderer.width // 2 :] = False
    ys, xs = np.nonzero(pupil)
    assert len(xs) > 20, "no pupil found"
    return float(xs.mean())


def test_gaze_follows_a_moving_person(renderer, theme):
    """A person walks across in front of the camera (optical frame, 2 m away): the pupils track them,
    to the face's left when the person is on the camera's right (mirror, like a person would)."""
    animator = FaceAnimator(idle=False)
    expected, measured = [], []
    for k in range(int(4 * FPS)):
        t = k / FPS
        x_m = -1.0 + 0.5 * t  # camera's left to right at 0.5 m/s
        animator.look_at(*gaze_from_point(x_m, 0.0, 2.0))
        frame = renderer.render(animator.params(t))
        expected.append(-math.atan2(x_m, 2.0))
        measured.append(pupil_offset_px(frame, theme, renderer))
    correlation = np.corrcoef(expected[5:], measured[5:])[0, 1]
    assert correlation > 0.98
    assert measured[-1] < measured[0] - 20  # moved by a visible amount, the right way round
    # a REP-103 head frame (x forward, y left) gives the same direction as the optical frame
    assert point_in_optical_frame("head_link", 2.0, -0.5, 0.0) == (0.5, -0.0, 2.0)


SENTENCES = (
    "Bob bought a big map.",
    "My mom made apple pie.",
    "Father parked the car far away.",
    "Pam, pass me the palm oil at the market.",
)
OPEN_VOWELS = ("a", "aa", "a#", "A:", "A@", "aI", "aU")


@pytest.fixture(scope="module")
def espeak():
    return Espeak()


def mouth_inside_px(frame: np.ndarray, theme) -> int:
    return int(np.all(frame == np.array(theme.colors["mouth_inside"], np.uint8), axis=-1).sum())


@pytest.mark.parametrize("sentence", SENTENCES)
def test_lip_sync_follows_phonemes_not_loudness(sentence, espeak, renderer, theme):
    speech = espeak.synthesize(sentence)
    assert speech.sample_rate > 8000 and speech.duration_s > 0.5
    track = VisemeTrack.from_speech(speech)
    animator = FaceAnimator(idle=False)
    animator.speak(track, start_s=10.0)
    audio = speech.audio.astype(np.float64)
    closed_rms, vowel_rms, bilabials, vowels = [], [], 0, 0
    bounds = [*track.start_s, speech.duration_s]
    for k, phoneme in enumerate(speech.phonemes):
        t0, t1 = bounds[k], bounds[k + 1]
        if t1 - t0 < 0.02:
            continue
        mid = (t0 + t1) / 2
        params = animator.params(10.0 + mid)
        window = audio[int(t0 * speech.sample_rate) : int(t1 * speech.sample_rate)]
        rms = float(np.sqrt((window**2).mean())) if len(window) else 0.0
        symbol = phoneme.symbol.strip("'\",%=:;_!|")
        if symbol in ("p", "b", "m"):
            bilabials += 1
            assert params.mouth_open == 0.0, f"mouth open during {phoneme.symbol!r} at {mid:.2f} s"
            assert mouth_inside_px(renderer.render(params), theme) == 0
            closed_rms.append(rms)
        elif phoneme.symbol.rstrip(":") in OPEN_VOWELS or phoneme.symbol in OPEN_VOWELS:
            vowels += 1
            assert params.mouth_open >= 0.4, f"mouth only {params.mouth_open:.2f} open during {phoneme.symbol!r}"
            assert mouth_inside_px(renderer.render(params), theme) > 500
            vowel_rms.append(rms)
    assert bilabials >= 1 and vowels >= 1
    if "m" in sentence.lower():  # a voiced /m/ is loud, yet the lips stay shut
        assert max(closed_rms) > 0.1 * np.median(vowel_rms)
    # before and after the speech the mouth is at rest
    assert animator.params(10.0 + speech.duration_s + 0.1).mouth_open == EXPRESSIONS["neutral"].mouth_open


def test_viseme_table_covers_the_phonemes(espeak):
    speech = espeak.synthesize("The quick brown fox jumps over the lazy dog while she thinks.")
    assert {viseme_of(p.symbol) for p in speech.phonemes} <= set(VISEMES)
    assert viseme_of("m") == viseme_of("b") == viseme_of("p") == "closed"
    assert viseme_of("u:") == "pucker" and viseme_of("i:") == "wide" and viseme_of("A:") == "open"


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"name": "grumpy"}, "unknown expression"),
        ({"name": "happy", "valence": float("nan")}, "valence is nan"),
        ({"name": "", "arousal": float("inf")}, "arousal is inf"),
        ({"name": "sad", "valence": 1.5}, "outside -1..1"),
        ({"name": "sad", "confidence": -0.1}, "confidence"),
    ],
)
def test_bad_expressions_are_refused(kwargs, message):
    with pytest.raises(FaceError, match=message):
        expression_params(**kwargs)


@pytest.mark.parametrize(
    "visemes,starts,duration,message",
    [
        (["open", "closed"], [0.0], 1.0, "2 visemes but 1 start"),
        (["yell"], [0.0], 1.0, "unknown viseme"),
        (["open", "closed"], [0.5, 0.2], 1.0, "non-decreasing"),
        (["open"], [float("nan")], 1.0, "finite"),
        (["open"], [2.0], 1.0, "within 0..duration"),
        (["open"] * 3000, [0.0] * 3000, 1.0, "more than"),
    ],
)
def test_bad_viseme_tracks_are_refused(visemes, starts, duration, message):
    with pytest.raises(FaceError, match=message):
        VisemeTrack.checked(visemes, starts, duration)


def test_broken_themes_and_panels_are_refused(tmp_path, theme):
    cases = {
        "colors.iris": "t:\n  colors: {background: [0,0,0], eye_white: [1,1,1], iris: [300,0,0], pupil: [0,0,0], "
        "brow: [0,0,0], mouth: [0,0,0], mouth_inside: [0,0,0], blush: [0,0,0]}\n",
        "needs `colors:`": "t: {eye_shape: ellipse}\n",
        "cannot read": "t: [unclosed\n",
    }
    for message, text in cases.items():
        path = tmp_path / "themes.yaml"
        path.write_text(text)
        with pytest.raises(FaceError, match=message):
            load_themes(path)
    with pytest.raises(FaceError, match="outside"):
        FaceRenderer(10, 10, 60.0, theme)
    with pytest.raises(FaceError, match="arc_deg"):
        FaceRenderer(640, 240, float("nan"), theme)


def test_curved_panel_prewarp_keeps_the_centre_and_squeezes_the_sides(theme):
    """Each panel column at arc length s shows the flat image at the column's apparent position
    R sin(s/R) (rescaled to the full width): the centre and rims stay put, the columns between
    sample further out than on a flat panel, which the bend then foreshortens back."""
    flat, curved = FaceRenderer(640, 240, 0.0, theme), FaceRenderer(640, 240, 90.0, theme)
    centre = 319.5
    assert abs(curved.map_x[0, 320] - 320) < 1.0
    assert abs(curved.map_x[0, 0] - 0.0) < 1.0 and abs(curved.map_x[0, -1] - 639) < 1.0
    assert curved.map_x[0, 560] - centre > flat.map_x[0, 560] - centre
    face = expression_params("happy")
    assert changed_fraction(flat.render(face), curved.render(face)) > 0.005


@pytest.mark.parametrize(
    "override,message",
    [
        (("display", "hologram"), "parameter display='hologram': valid values are none, window, fullscreen"),
        (("theme", "neon"), "parameter theme='neon' not in the themes file"),
        (("frame_rate_hz", 0.0), "parameter frame_rate_hz=0.0 outside 0.5..120"),
        (("width_px", 20), "parameter width_px=20 outside 64..4096"),
    ],
)
def test_the_face_node_refuses_bad_parameters(override, message):
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from forma_face.face_node import FaceNode

    context = Context()
    rclpy.init(context=context, domain_id=99)
    try:
        with pytest.raises(FaceError, match=message):
            FaceNode(context=context, parameter_overrides=[Parameter(override[0], value=override[1])])
    finally:
        rclpy.shutdown(context=context)
