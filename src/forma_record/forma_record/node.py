"""The recorder node: every topic of the graph (or the chosen ones) into MCAP.

Topics are discovered as they appear (every `discovery_period_s`); each is subscribed with the
QoS its publishers offer (reliable only if all are, transient local only if all are: rosbag2's
rule, so latched topics such as robot_description are recorded too; a topic seen only through its
subscribers waits for a publisher, whose QoS decides) and recorded as the raw CDR
bytes DDS delivered, never deserialised. log_time is the node clock at reception (sim time under
use_sim_time), publish_time the publisher's source timestamp.

Writing, compressing and fsync'ing happen in a writer thread: the subscription callbacks only
queue the bytes. A publisher keeps few unacknowledged samples (joint_states: 5, 10 ms at
500 Hz), so a recorder whose executor stalls on a disk flush loses messages it never saw.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import queue
import re
import threading

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_record.errors import RecordError
from forma_record.mcap_file import RecordingWriter, SplitPolicy
from forma_record.schema import normalize, ros2msg_schema

INFINITE = {"sec": 9223372036, "nsec": 854775807}


def offered_qos_yaml(profiles: list[QoSProfile]) -> str:
    """rosbag2's `offered_qos_profiles` channel metadata (its version-9 string form)."""
    import yaml

    def one(p: QoSProfile) -> dict:
        return {
            "history": "keep_all" if p.history == HistoryPolicy.KEEP_ALL else "keep_last",
            "depth": int(p.depth),
            "reliability": "reliable" if p.reliability == ReliabilityPolicy.RELIABLE else "best_effort",
            "durability": "transient_local" if p.durability == DurabilityPolicy.TRANSIENT_LOCAL else "volatile",
            "deadline": INFINITE,
            "lifespan": INFINITE,
            "liveliness": "automatic",
            "liveliness_lease_duration": INFINITE,
            "avoid_ros_namespace_conventions": False,
        }

    return yaml.safe_dump([one(p) for p in profiles], sort_keys=False)


def subscription_qos(profiles: list[QoSProfile]) -> QoSProfile:
    reliable = profiles and all(p.reliability == ReliabilityPolicy.RELIABLE for p in profiles)
    latched = profiles and all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in profiles)
    return QoSProfile(
        depth=1000,  # bursts wait in the queue instead of being dropped
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class WriterThread:
    """Feeds a RecordingWriter from a queue in its own thread; flushes on schedule when idle."""

    def __init__(self, writer: RecordingWriter, logger) -> None:
        self.writer, self.logger = writer, logger
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, name="mcap-writer", daemon=True)
        self.thread.start()

    def write(self, *record) -> None:
        self.queue.put(record)

    def _run(self) -> None:
        while True:
            try:
                record = self.queue.get(timeout=self.writer.flush_period_s)
            except queue.Empty:
                record = ()
            if record is None:
                return
            try:
                if record:
                    self.writer.write(*record)
                else:
                    self.writer.tick()  # quiet topics still get flushed on schedule
            except Exception as exc:  # a full disk must be said, not swallowed
                if self.error is None:
                    self.logger.error(f"recording stopped: cannot write: {exc}")
                self.error = exc

    def close(self) -> None:
        """Write everything queued, then finish the file (summary and footer)."""
        self.queue.put(None)
        self.thread.join()
        self.writer.close()


@dataclasses.dataclass(frozen=True)
class RecorderParams:
    output_dir: str = param("~/forma_recordings", "directory of the recordings")
    name: str = param("", "file name stem; empty = forma_<date>_<time>")
    topics: list[str] = param([""], "topics to record; empty = every topic")
    exclude: list[str] = param([""], "regular expressions of topics not to record")
    include_hidden: bool = param(False, "also record hidden topics (…/_action/…, parameter events are never)")
    max_bytes: int = param(0, "start a new file past this size; 0 = never", unit="bytes", low=0)
    max_duration_s: float = param(0.0, "start a new file after this long; 0 = never", unit="s", low=0.0)
    flush_period_s: float = param(
        0.25, "flush to the OS this often: what a crash can lose", unit="s", low=0.01, high=1.0
    )
    discovery_period_s: float = param(0.5, "look for new topics this often", unit="s", low=0.0)


class RecorderNode(Node):
    """Records topics into <output_dir>/<name>_<k>.mcap."""

    PARAMS = (RecorderParams,)

    def __init__(self, node_name: str = "recorder", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, RecorderParams, error=RecordError)
        if "/" in p.name:
            raise RecordError(f"parameter name={p.name!r}: must be a file name, not a path (set output_dir)")
        try:
            self.exclude = [re.compile(x) for x in p.exclude if x]
        except re.error as exc:
            raise RecordError(f"parameter exclude={p.exclude}: bad regular expression: {exc}") from exc
        out_dir = pathlib.Path(p.output_dir).expanduser()
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = p.name or datetime.datetime.now().strftime("forma_%Y%m%d_%H%M%S")
        self.wanted = {t if t.startswith("/") else "/" + t for t in p.topics if t}
        self.include_hidden = p.include_hidden
        split = SplitPolicy(p.max_bytes, p.max_duration_s)
        self.writer = RecordingWriter(out_dir / stem, split, p.flush_period_s)
        self.writer_thread = WriterThread(self.writer, self.get_logger())
        self.subscriptions_by_topic: dict[str, object] = {}
        self.refused: set[str] = set()
        self.create_timer(p.discovery_period_s, self._discover)
        self.get_logger().info(f"recording {sorted(self.wanted) or 'every topic'} into {self.writer.files[0]}")
        self._discover()

    def _wanted(self, topic: str) -> bool:
        if topic in ("/parameter_events",) or (not self.include_hidden and "/_" in topic):
            return False
        if self.wanted and topic not in self.wanted:
            return False
        return not any(x.search(topic) for x in self.exclude)

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.subscriptions_by_topic or topic in self.refused or not self._wanted(topic):
                continue
            type_name = types[0]
            try:
                ros2msg_schema(normalize(type_name))
                msg_class = _message_class(type_name)
            except (RecordError, ImportError, AttributeError) as exc:
                self.refused.add(topic)
                self.get_logger().error(f"not recording {topic} ({type_name}): {exc}")
                continue
            offers = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
            if not offers:
                # seen only through its subscribers so far: matching QoS needs a publisher's offer
                # (subscribed volatile now, a latched topic's message would never arrive)
                continue
            qos_yaml = offered_qos_yaml(offers)

            def on_message(data: bytes, info, topic=topic, type_name=type_name, qos_yaml=qos_yaml) -> None:
                now = self.get_clock().now().nanoseconds
                self.writer_thread.write(topic, type_name, data, now, int(info.get("source_timestamp", now)), qos_yaml)

            self.subscriptions_by_topic[topic] = self.create_subscription(
                msg_class, topic, on_message, subscription_qos(offers), raw=True
            )
            self.get_logger().info(f"recording {topic} ({type_name})")

    def destroy_node(self) -> None:
        self.writer_thread.close()  # the queue written, then summary and footer: a complete file
        self.get_logger().info(
            f"recorded {self.writer.messages_written} messages into {', '.join(map(str, self.writer.files))}"
        )
        super().destroy_node()


def _message_class(type_name: str):
    import importlib

    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def main(args=None) -> None:
    """Run the recorder alone: `ros2 run forma_record recorder_node`."""
    run_node(RecorderNode, (RecordError,), args)
