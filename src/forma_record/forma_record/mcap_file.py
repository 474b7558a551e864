"""MCAP files as rosbag2 and Foxglove read them (profile `ros2`, `ros2msg` schemas, `cdr`
messages), written so that a crash loses at most the last flush period, split by size and time.

Crash safety: messages go into zstd-compressed, indexed chunks (what Foxglove's and rosbag2's
indexed readers need), and every `flush_period_s` the chunk in progress is closed and handed to
the OS (fsync'ed every `fsync_period_s`, for power loss). A killed recorder leaves a file without
its summary and footer: every chunk up to the last flush is intact and readable with a streaming
MCAP reader, and `recover()` rewrites it as a complete file. A clean stop (Ctrl-C, SIGTERM)
finishes the file with summary and footer.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import struct
import time
from collections.abc import Iterator

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

from forma_record.errors import RecordError
from forma_record.schema import normalize, ros2msg_schema

PROFILE = "ros2"
LIBRARY = "forma_record"
CHUNK_BYTES = 4 * 1024 * 1024  # a chunk also closes at every flush, whichever comes first


@dataclasses.dataclass(frozen=True)
class SplitPolicy:
    max_bytes: int = 0  # 0 = no size limit
    max_duration_s: float = 0.0  # 0 = no time limit

    def __post_init__(self) -> None:
        if self.max_bytes < 0 or not self.max_duration_s >= 0:
            raise RecordError(f"split limits must be >= 0 (max_bytes {self.max_bytes}, max_s {self.max_duration_s})")


class RecordingWriter:
    """Writes messages into <stem>_0.mcap, <stem>_1.mcap, ... (one file when nothing splits)."""

    def __init__(
        self,
        stem: str | pathlib.Path,
        split: SplitPolicy = SplitPolicy(),
        flush_period_s: float = 0.25,
        fsync_period_s: float = 1.0,
        clock=time.monotonic,
    ) -> None:
        self.stem = pathlib.Path(stem)
        if not self.stem.parent.is_dir():
            raise RecordError(f"output directory {self.stem.parent} does not exist")
        self.split, self.flush_period_s, self.fsync_period_s = split, flush_period_s, fsync_period_s
        self.clock = clock
        self.files: list[pathlib.Path] = []
        self.messages_written = 0
        self._writer: Writer | None = None
        self._stream = None
        self._open_next()

    # --- files ------------------------------------------------------------------------------------
    def _open_next(self) -> None:
        path = self.stem.parent / f"{self.stem.name}_{len(self.files)}.mcap"
        if path.exists():
            raise RecordError(f"{path} exists; choose another output name (recordings are never overwritten)")
        self._stream = open(path, "wb")  # noqa: SIM115 (kept open across calls, closed in _close)
        self._writer = Writer(self._stream, chunk_size=CHUNK_BYTES, compression=CompressionType.ZSTD)
        self._writer.start(profile=PROFILE, library=LIBRARY)
        self.files.append(path)
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self._opened_at = self._last_flush = self._last_fsync = self.clock()
        self._pending_bytes = 0
        self._writer.flush()

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.finish()
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        self._writer = self._stream = None

    # --- writing ----------------------------------------------------------------------------------
    def write(
        self, topic: str, type_name: str, data: bytes, log_time_ns: int, publish_time_ns: int, qos_yaml: str = ""
    ) -> None:
        """One CDR-serialized message; schema and channel are registered on first use."""
        if self._writer is None:
            raise RecordError("the recording is closed")
        if self._needs_split():
            self._close()
            self._open_next()
        channel = self._channels.get(topic)
        if channel is None:
            name = normalize(type_name)
            schema = self._schemas.get(name)
            if schema is None:
                schema = self._writer.register_schema(name, "ros2msg", ros2msg_schema(name).encode())
                self._schemas[name] = schema
            metadata = {"offered_qos_profiles": qos_yaml} if qos_yaml else {}
            channel = self._writer.register_channel(topic, "cdr", schema, metadata)
            self._channels[topic] = channel
        self._writer.add_message(channel, log_time_ns, data, publish_time_ns)
        self._pending_bytes += len(data)  # not in the file yet: counted uncompressed, so splits come early
        self.messages_written += 1
        self.tick()

    def tick(self) -> None:
        """Flush on schedule; call it from a timer too, so quiet periods get flushed."""
        if self._stream is None:
            return
        now = self.clock()
        if now - self._last_flush >= self.flush_period_s:
            self._writer.flush()  # closes the chunk in progress and flushes the file
            self._pending_bytes = 0
            self._last_flush = now
            if now - self._last_fsync >= self.fsync_period_s:
                os.fsync(self._stream.fileno())
                self._last_fsync = now

    def _needs_split(self) -> bool:
        s = self.split
        if s.max_bytes and self._stream.tell() + self._pending_bytes >= s.max_bytes:
            return True
        return bool(s.max_duration_s) and self.clock() - self._opened_at >= s.max_duration_s

    def close(self) -> None:
        self._close()


# --- reading ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RecordedMessage:
    topic: str
    schema_name: str
    log_time_ns: int
    publish_time_ns: int
    data: bytes
    channel: Channel
    schema: Schema


def read_messages(path: str | pathlib.Path) -> Iterator[RecordedMessage]:
    """Every message of a file in file order, complete or cut short by a crash (a truncated last
    record ends the iteration; nothing before it is lost)."""
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    with open(path, "rb") as f:
        reader = StreamReader(f, validate_crcs=True)
        try:
            for record in reader.records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    channel = channels[record.channel_id]
                    schema = schemas[channel.schema_id]
                    yield RecordedMessage(
                        channel.topic,
                        schema.name,
                        record.log_time,
                        record.publish_time,
                        bytes(record.data),
                        channel,
                        schema,
                    )
        except (McapError, EOFError, ValueError, KeyError, struct.error) as exc:
            if not _is_truncation(exc):
                raise RecordError(f"{path}: not a readable MCAP file: {exc}") from exc


def recorded_channels(path: str | pathlib.Path) -> dict[str, tuple[str, dict]]:
    """topic -> (schema name, channel metadata) of every channel in a file: from the summary of a
    complete file (no message is read), else by scanning a file cut short by a crash."""
    if is_complete(path):
        with open(path, "rb") as f:
            try:
                summary = make_reader(f).get_summary()
            except (McapError, EOFError, ValueError, struct.error) as exc:
                raise RecordError(f"{path}: not a readable MCAP file: {exc}") from exc
        if summary is not None:
            return {c.topic: (summary.schemas[c.schema_id].name, dict(c.metadata)) for c in summary.channels.values()}
    found: dict[str, tuple[str, dict]] = {}
    for m in read_messages(path):
        found.setdefault(m.topic, (m.schema_name, dict(m.channel.metadata)))
    return found


def _is_truncation(exc: Exception) -> bool:
    """The file ends inside a record (a crash), rather than being something else than MCAP."""
    return (
        isinstance(exc, struct.error)
        or type(exc).__name__ in ("EndOfFile", "EOFError")
        or "end of file" in str(exc).lower()
    )


def is_complete(path: str | pathlib.Path) -> bool:
    """True when the file ends with the MCAP footer and magic (it was closed cleanly)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 8:
            return False
        f.seek(-8, os.SEEK_END)
        return f.read(8) == b"\x89MCAP0\r\n"


def recover(path: str | pathlib.Path, out: str | pathlib.Path | None = None) -> tuple[pathlib.Path, int]:
    """Rewrite a recording cut short by a crash as a complete file (summary, footer); returns the
    new path (<name>.recovered.mcap unless given) and the number of messages kept."""
    path = pathlib.Path(path)
    out = pathlib.Path(out) if out else path.with_suffix(".recovered.mcap")
    if out.exists():
        raise RecordError(f"{out} exists")
    count = 0
    with open(out, "wb") as stream:
        writer = Writer(stream, chunk_size=CHUNK_BYTES, compression=CompressionType.ZSTD)
        writer.start(profile=PROFILE, library=LIBRARY)
        schema_ids: dict[int, int] = {}
        channel_ids: dict[int, int] = {}
        for m in read_messages(path):
            if m.schema.id not in schema_ids:
                schema_ids[m.schema.id] = writer.register_schema(m.schema.name, m.schema.encoding, m.schema.data)
            if m.channel.id not in channel_ids:
                channel_ids[m.channel.id] = writer.register_channel(
                    m.channel.topic, m.channel.message_encoding, schema_ids[m.schema.id], dict(m.channel.metadata)
                )
            writer.add_message(channel_ids[m.channel.id], m.log_time_ns, m.data, m.publish_time_ns)
            count += 1
        writer.finish()
    return out, count
