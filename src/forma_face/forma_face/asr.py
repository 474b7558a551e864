"""Speech-recognition input: where utterances come from besides the interaction/utterance topic.

A backend turns what people say into text and hands each utterance to a callback; the interaction
node treats it exactly like a message on interaction/utterance. Backends are pluggable: the
built-in ones are below, and a package can add its own (say, a Whisper or Vosk recogniser) by
exposing a class under the entry-point group `forma.asr`:

    entry_points={"forma.asr": ["whisper = my_pkg.asr:WhisperInput"]}

The class is built as Backend(**options) and must provide start(on_text) and stop().
"""

from __future__ import annotations

import errno
import os
import pathlib
import select
import stat
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Protocol

from forma_face.errors import FaceError

ENTRY_POINT_GROUP = "forma.asr"


class SpeechInput(Protocol):
    def start(self, on_text: Callable[[str], None]) -> None: ...

    def stop(self) -> None: ...


class FifoInput:
    """Lines of text from a named pipe: any external recogniser (whisper.cpp's stream example,
    a Vosk script, a test) writes one utterance per line into it. The pipe is created if missing."""

    def __init__(self, path: str = "/tmp/forma_asr") -> None:
        self.path = pathlib.Path(path)
        if self.path.exists() and not stat.S_ISFIFO(self.path.stat().st_mode):
            raise FaceError(f"asr fifo {self.path} exists and is not a named pipe")
        if not self.path.exists():
            try:
                os.mkfifo(self.path)
            except OSError as exc:
                raise FaceError(f"cannot create the asr fifo {self.path}: {exc}") from exc
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_text: Callable[[str], None]) -> None:
        self._thread = threading.Thread(target=self._run, args=(on_text,), name="asr-fifo", daemon=True)
        self._thread.start()

    def _run(self, on_text: Callable[[str], None]) -> None:
        # O_RDWR keeps one writer open (our own), so the read end never sees end-of-file between
        # external writers, and open() does not block waiting for one.
        fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        buffer = b""
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], 0.2)
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError as exc:
                    if exc.errno == errno.EAGAIN:
                        continue
                    raise
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace").strip()
                    if text:
                        on_text(text)
        finally:
            os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


BUILT_IN: dict[str, type] = {"fifo": FifoInput}


def make_speech_input(backend: str, options: Mapping[str, str]) -> SpeechInput | None:
    """The backend by name ("none" = the topic only); options are passed as keyword arguments."""
    if backend in ("", "none"):
        return None
    cls = BUILT_IN.get(backend)
    if cls is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == backend]
        if not found:
            known = ["none", *BUILT_IN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))]
            raise FaceError(f"unknown asr backend {backend!r}; installed: {', '.join(known)}")
        cls = found[0].load()
    try:
        return cls(**options)
    except TypeError as exc:
        raise FaceError(f"asr backend {backend!r}: bad options {dict(options)}: {exc}") from exc
