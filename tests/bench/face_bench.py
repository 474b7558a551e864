"""Face and interaction speed: frames of the animated face at the panel's 1280x480 with the curved
pre-warp, intent recognition and speech synthesis, each beside a baseline measured in the same run."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np

REPLIES = (
    "Hello! Nice to see you.",
    "Okay, I'll pick up the red cup.",
    "Sorry, I didn't understand that.",
    "I'm doing well, thanks for asking.",
    "Goodbye! See you soon.",
)
UTTERANCES = (
    "could you pick up the red cup",
    "hello there",
    "what is the weather like tomorrow",
    "please hand me the green ball",
    "stop what you are doing",
    "how are you today",
)


def _times_ms(fn, args, repeat: int) -> np.ndarray:
    out = []
    for k in range(repeat):
        t0 = time.perf_counter()
        fn(args[k % len(args)])
        out.append((time.perf_counter() - t0) * 1e3)
    return np.array(out)


def bench_face(seconds: float = 6.0) -> dict:
    from forma_face.animator import FaceAnimator
    from forma_face.dialogue import Dialogue, load_dialogue_config
    from forma_face.expressions import EXPRESSIONS
    from forma_face.face_node import default_themes_path
    from forma_face.interaction_node import default_intents_path
    from forma_face.minilm import MiniLM
    from forma_face.renderer import FaceRenderer, load_themes
    from forma_face.speech import Espeak
    from tests.bench.run_bench import figure

    renderer = FaceRenderer(1280, 480, 60.0, load_themes(default_themes_path())["default"])
    animator = FaceAnimator(seed=1)
    names = list(EXPRESSIONS)
    frames = int(seconds * 30)
    params = []
    for k in range(frames):  # a face in motion: a new expression every second, idle life on
        t = k / 30.0
        if k % 30 == 0:
            animator.set_expression(EXPRESSIONS[names[(k // 30) % len(names)]], t)
        params.append(animator.params(t))
    renderer.render(params[0])  # warm-up
    frame_ms, flat_ms = [], []
    for p in params:  # interleaved, so machine noise hits both alike
        flat_ms.append(_times_ms(renderer.draw_flat, [p], 1)[0])
        frame_ms.append(_times_ms(renderer.render, [p], 1)[0])
    frame_ms, flat_ms = np.array(frame_ms), np.array(flat_ms)

    dialogue = Dialogue(load_dialogue_config(default_intents_path()), MiniLM())
    dialogue.respond(UTTERANCES[0])
    intent_ms = _times_ms(dialogue.respond, UTTERANCES, 60)
    encode_ms = _times_ms(lambda u: dialogue.encoder.encode([u]), UTTERANCES, 60)

    espeak = Espeak()
    espeak.synthesize(REPLIES[0])
    tts_ms = _times_ms(espeak.synthesize, REPLIES, 40)
    cli = shutil.which("espeak-ng")
    cli_ms = (
        _times_ms(
            lambda text: subprocess.run([cli, "--stdout", "-x", text], capture_output=True, check=True), REPLIES, 20
        )
        if cli
        else None
    )
    return {
        "face_fps_1280x480": figure(
            1e3 / frame_ms.mean(),
            "fps",
            1e3 / flat_ms.mean(),
            "animated face with the curved-panel warp, one core; baseline: drawing without the warp",
            goal=30.0,
        ),
        "face_frame_p99_ms": figure(
            float(np.percentile(frame_ms, 99)),
            "ms",
            note="render + warp at 1280x480; goal: the 30 fps frame budget; no same-run baseline",
            lower_is_better=True,
            goal=round(1e3 / 30.0, 1),
        ),
        "intent_latency_p50_ms": figure(
            float(np.median(intent_ms)),
            "ms",
            float(np.median(encode_ms)),
            "utterance -> intent, slots, reply (MiniLM in NumPy); baseline: the embedding alone",
            lower_is_better=True,
        ),
        "tts_latency_p50_ms": figure(
            float(np.median(tts_ms)),
            "ms",
            None if cli_ms is None else float(np.median(cli_ms)),
            "reply -> audio + phoneme timing, espeak-ng in-process; baseline: the "
            "espeak-ng command line for the same text",
            lower_is_better=True,
        ),
    }
