"""Text to speech with espeak-ng, and the mouth shapes (visemes) that go with it.

espeak-ng is called through its C library (libespeak-ng.so.1, Debian package libespeak-ng1) with
phoneme events on: one synthesis gives the audio samples and every phoneme with its start time in
the audio, so lip sync follows the phonemes actually spoken, not the loudness.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import math
import threading

import numpy as np

from forma_face.errors import FaceError

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
EVENT_LIST_TERMINATED, EVENT_PHONEME, EVENT_SAMPLERATE = 0, 7, 8
POS_CHARACTER, CHARS_UTF8 = 1, 1
MAX_TEXT_CHARS = 600
MAX_VISEMES = 2000


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # [ms] from the start of the utterance
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclasses.dataclass(frozen=True)
class Phoneme:
    symbol: str  # espeak-ng phoneme mnemonic, e.g. "p", "aI", "@"
    start_s: float


@dataclasses.dataclass(frozen=True)
class Speech:
    text: str
    audio: np.ndarray  # int16 mono
    sample_rate: int
    phonemes: tuple[Phoneme, ...]

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


class Espeak:
    """One espeak-ng instance (the library is not re-entrant: calls are serialised)."""

    _lock = threading.Lock()
    _lib = None
    _sample_rate = 0

    def __init__(self, voice: str = "en", rate_wpm: int = 165) -> None:
        with Espeak._lock:
            if Espeak._lib is None:
                path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
                try:
                    lib = ctypes.CDLL(path)
                except OSError as exc:
                    raise FaceError(
                        f"espeak-ng library not found ({exc}); apt install libespeak-ng1 espeak-ng-data"
                    ) from exc
                lib.espeak_Initialize.restype = ctypes.c_int
                rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS)
                if rate <= 0:
                    raise FaceError("espeak-ng failed to initialise (is espeak-ng-data installed?)")
                Espeak._lib, Espeak._sample_rate = lib, rate
            self.lib = Espeak._lib
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise FaceError(f"espeak-ng has no voice {voice!r}")
            self.voice = voice
            self.lib.espeak_SetParameter(1, int(rate_wpm), 0)  # espeakRATE

    def synthesize(self, text: str) -> Speech:
        text = text.strip()
        if not text:
            raise FaceError("nothing to say: the text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise FaceError(f"text of {len(text)} characters is longer than {MAX_TEXT_CHARS}; say it in parts")
        chunks: list[np.ndarray] = []
        phonemes: list[Phoneme] = []

        def on_synth(wav, n, events) -> int:
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            k = 0
            while events[k].type != EVENT_LIST_TERMINATED:
                e = events[k]
                if e.type == EVENT_PHONEME:
                    symbol = bytes(e.id.string).split(b"\0", 1)[0].decode(errors="replace")
                    phonemes.append(Phoneme(symbol, e.audio_position / 1000.0))
                k += 1
            return 0

        callback = _CALLBACK(on_synth)
        data = text.encode("utf-8")
        with Espeak._lock:
            self.lib.espeak_SetVoiceByName(self.voice.encode())
            self.lib.espeak_SetSynthCallback(callback)
            err = self.lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
        if err != 0:
            raise FaceError(f"espeak-ng could not synthesise the text (error {err})")
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return Speech(text, audio.astype(np.int16), Espeak._sample_rate, tuple(phonemes))


# --- visemes ---------------------------------------------------------------------------------
# Mouth shapes: openness 0..1 (jaw), width 0..1 (lips spread), roundness 0..1 (lips pushed out).
VISEMES = {
    "rest": (0.05, 0.5, 0.0),
    "closed": (0.0, 0.5, 0.0),  # p b m
    "teeth_lip": (0.15, 0.55, 0.0),  # f v
    "tongue": (0.3, 0.55, 0.0),  # th dh, l, t d n
    "wide": (0.35, 0.9, 0.0),  # i e (spread lips)
    "open": (0.85, 0.6, 0.0),  # a aa ah
    "round": (0.5, 0.3, 0.9),  # o, ow
    "pucker": (0.25, 0.2, 1.0),  # u w
    "hiss": (0.2, 0.7, 0.2),  # s z sh ch j
    "consonant": (0.25, 0.5, 0.1),  # k g h r y ...
}
_BY_PREFIX = [
    (("p", "b", "m"), "closed"),
    (("f", "v"), "teeth_lip"),
    (("T", "D", "l", "t", "d", "n", "N"), "tongue"),
    (("a", "A", "V", "aI", "aU"), "open"),
    (("O", "o", "0"), "round"),
    (("u", "U", "w"), "pucker"),
    (("i", "I", "e", "E", "eI", "j"), "wide"),
    (("s", "z", "S", "Z", "tS", "dZ"), "hiss"),
    (("@", "3"), "consonant"),
]


def viseme_of(symbol: str) -> str:
    """Map an espeak-ng phoneme mnemonic to a viseme; stress and length marks are ignored."""
    s = symbol.strip("'\",%=:;_!|")
    if not s:
        return "rest"
    for prefixes, viseme in _BY_PREFIX:
        if s.startswith(prefixes):
            return viseme
    return "consonant"


@dataclasses.dataclass(frozen=True)
class VisemeTrack:
    """Visemes with their start times [s] from the start of the audio."""

    visemes: tuple[str, ...]
    start_s: tuple[float, ...]
    duration_s: float

    @classmethod
    def checked(cls, visemes, start_s, duration_s: float) -> VisemeTrack:
        """A track from untrusted input (a message): equal lengths, known names, finite times in order."""
        names, starts, duration = [str(v) for v in visemes], [float(s) for s in start_s], float(duration_s)
        if len(names) != len(starts):
            raise FaceError(f"{len(names)} visemes but {len(starts)} start times")
        if len(names) > MAX_VISEMES:
            raise FaceError(f"{len(names)} visemes is more than {MAX_VISEMES}; split the utterance")
        unknown = sorted(set(names) - set(VISEMES))
        if unknown:
            raise FaceError(f"unknown viseme(s) {', '.join(unknown)}; known: {', '.join(VISEMES)}")
        if not all(math.isfinite(v) for v in (*starts, duration)) or duration < 0:
            raise FaceError("times must be finite and duration_s >= 0")
        if any(np.diff(starts) < 0) or (starts and (starts[0] < 0 or starts[-1] > duration)):
            raise FaceError("start times must be non-decreasing and within 0..duration_s")
        return cls(tuple(names), tuple(starts), duration)

    @classmethod
    def from_speech(cls, speech: Speech) -> VisemeTrack:
        names = tuple(viseme_of(p.symbol) for p in speech.phonemes)
        return cls(names, tuple(p.start_s for p in speech.phonemes), speech.duration_s)

    def at(self, t_s: float) -> str:
        """The viseme being spoken at t_s (rest before and after)."""
        if t_s < 0 or t_s >= self.duration_s or not self.visemes:
            return "rest"
        k = int(np.searchsorted(self.start_s, t_s, side="right")) - 1
        return self.visemes[k] if k >= 0 else "rest"
