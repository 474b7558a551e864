"""Replay: a recording played back into the graph, at its own pace (rate 1) or faster.

Each message is published as the raw CDR bytes recorded, on its topic, with the QoS its
publishers offered (from the channel's offered_qos_profiles), at
    wall_start + (log_time - first_log_time) / rate.
With `clock`, /clock carries the recording's time (a recorded /clock is then not replayed), so
nodes under use_sim_time run on the recording's time. The timing error of every publication
(actual minus planned wall time) is measured and reported.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import threading
import time
from collections.abc import Iterable, Sequence

import numpy as np
import yaml
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from forma_record.errors import RecordError
from forma_record.mcap_file import read_messages, recorded_channels

CLOCK_PERIOD_S = 0.01


def recording_files(paths: Sequence[str | pathlib.Path]) -> list[pathlib.Path]:
    """Files to play: given files, or a stem's split set <stem>_0.mcap, <stem>_1.mcap, ..."""
    out: list[pathlib.Path] = []
    for p in map(pathlib.Path, paths):
        if p.is_file():
            out.append(p)
            continue
        split = sorted(p.parent.glob(f"{p.name}_*.mcap"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
        if not split:
            raise RecordError(f"{p}: no such recording (neither a file nor {p.name}_0.mcap, ...)")
        out += split
    return out


def ros_type(schema_name: str) -> str:
    package, name = schema_name.split("/")
    return f"{package}/msg/{name}"


def offered_qos(metadata: dict) -> QoSProfile:
    """The QoS to publish with: what the recorded publishers offered (rosbag2's metadata)."""
    try:
        offers = yaml.safe_load(metadata.get("offered_qos_profiles", "")) or []
    except yaml.YAMLError:
        offers = []
    reliable = all(o.get("reliability") in ("reliable", 1) for o in offers) if offers else True
    latched = bool(offers) and all(o.get("durability") in ("transient_local", 1) for o in offers)
    return QoSProfile(
        depth=100 if not latched else 1,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


@dataclasses.dataclass
class ReplayReport:
    counts: dict[str, int]
    timing_error_ms_p50: float
    timing_error_ms_p99: float
    timing_error_ms_max: float
    duration_s: float


class Replayer:
    """Publishes a recording through `node` (which the caller spins, or not: publishing needs no spin)."""

    def __init__(
        self,
        node: Node,
        files: Iterable[pathlib.Path],
        rate: float = 1.0,
        clock: bool = False,
        topics: Sequence[str] = (),
    ) -> None:
        if not (rate > 0 and np.isfinite(rate)):
            raise RecordError(f"rate {rate} must be > 0")
        self.node, self.rate, self.clock = node, rate, clock
        self.files = list(files)
        self.topics = {t if t.startswith("/") else "/" + t for t in topics}
        self.publishers: dict[str, object] = {}
        self.clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        self.stop_event = threading.Event()

    def _publisher(self, topic: str, schema_name: str, metadata: dict):
        pub = self.publishers.get(topic)
        if pub is None:
            package, kind, name = ros_type(schema_name).split("/")
            try:
                msg_class = getattr(importlib.import_module(f"{package}.{kind}"), name)
            except (ImportError, AttributeError) as exc:
                raise RecordError(f"{topic}: message type {schema_name} is not installed here") from exc
            pub = self.node.create_publisher(msg_class, topic, offered_qos(metadata))
            self.publishers[topic] = pub
        return pub

    def _wait_for_subscribers(self, timeout_s: float) -> None:
        """Create every replayed topic's publisher, then wait (at most timeout_s) until each has a
        subscriber: a publisher made at its first message would lose what it sends before discovery
        matches it (0.5 s and more on a loaded machine)."""
        for f in self.files:
            for topic, (schema_name, metadata) in recorded_channels(f).items():
                if self._wanted_topic(topic):
                    self._publisher(topic, schema_name, metadata)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stop_event.is_set():
            if all(p.get_subscription_count() > 0 for p in self.publishers.values()):
                time.sleep(0.05)  # the subscribers' side of the match settles just after
                return
            time.sleep(0.02)

    def _wanted_topic(self, topic: str) -> bool:
        if self.clock and topic == "/clock":
            return False
        return not self.topics or topic in self.topics

    def run(self, wait_for_subscribers_s: float = 0.0) -> ReplayReport:
        if not (np.isfinite(wait_for_subscribers_s) and wait_for_subscribers_s >= 0):
            raise RecordError(f"wait for subscribers {wait_for_subscribers_s} s must be >= 0")
        messages = (m for f in self.files for m in read_messages(f) if self._wanted_topic(m.topic))
        first = next(messages, None)
        if first is None:
            raise RecordError(f"nothing to replay in {', '.join(map(str, self.files))}")
        t_first = first.log_time_ns
        counts: dict[str, int] = {}
        errors: list[float] = []
        if wait_for_subscribers_s > 0:
            self._wait_for_subscribers(wait_for_subscribers_s)
        start = time.monotonic()
        next_clock = 0.0
        for m in _chain(first, messages):
            if self.stop_event.is_set():
                break
            due = (m.log_time_ns - t_first) * 1e-9 / self.rate
            pub = self._publisher(m.topic, m.schema_name, dict(m.channel.metadata))
            while True:  # sleep until due, publishing /clock on the way when asked
                now = time.monotonic() - start
                if self.clock_pub is not None and now >= next_clock:
                    recording_ns = t_first + int(min(now, due) * self.rate * 1e9)
                    self._publish_clock(recording_ns)
                    next_clock = now + CLOCK_PERIOD_S
                if now >= due:
                    break
                time.sleep(min(due - now, CLOCK_PERIOD_S if self.clock_pub else 0.05))
            pub.publish(m.data)
            errors.append((time.monotonic() - start - due) * 1e3)
            counts[m.topic] = counts.get(m.topic, 0) + 1
        e = np.array(errors)
        return ReplayReport(
            counts, float(np.median(e)), float(np.percentile(e, 99)), float(e.max()), time.monotonic() - start
        )

    def _publish_clock(self, ns: int) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(ns, 1_000_000_000)
        self.clock_pub.publish(msg)


def _chain(first, rest):
    yield first
    yield from rest
