"""MCAP files as rosbag2 and Foxglove read them: every message type the stack publishes gets a
ros2msg schema with which a reader that knows nothing but the file decodes rclpy's CDR bytes;
splitting by size and time; a file cut short by a crash reads up to the cut and recovers into a
complete file; bad input is refused."""

from __future__ import annotations

import importlib

import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import serialize_message

from forma_record.errors import RecordError
from forma_record.mcap_file import (
    RecordingWriter,
    SplitPolicy,
    is_complete,
    read_messages,
    recorded_channels,
    recover,
)
from forma_record.schema import dependencies, normalize, ros2msg_schema

TYPES = [
    "sensor_msgs/msg/JointState", "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/Imu",
    "sensor_msgs/msg/BatteryState", "geometry_msgs/msg/WrenchStamped", "geometry_msgs/msg/PoseStamped",
    "std_msgs/msg/String", "rosgraph_msgs/msg/Clock", "diagnostic_msgs/msg/DiagnosticArray",
    "rcl_interfaces/msg/Log", "forma_interfaces/msg/HardwareState", "forma_interfaces/msg/Expression",
    "forma_interfaces/msg/PersonArray", "forma_interfaces/msg/DetectedObjectArray",
    "forma_interfaces/msg/FingertipTouch", "forma_interfaces/msg/Visemes", "forma_interfaces/msg/HandCommand",
    "forma_interfaces/msg/SafetyState",
]  # fmt: skip


def message_class(type_name: str):
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def filled(type_name: str):
    """A message with recognisable values in its header and first fields."""
    msg = message_class(type_name)()
    if hasattr(msg, "header"):
        msg.header.frame_id = "frame_" + type_name.split("/")[-1]
        msg.header.stamp.sec = 1234
    for field, kind in msg.get_fields_and_field_types().items():
        if kind == "string" and field != "header":
            setattr(msg, field, f"value of {field}")
            break
    return msg


@pytest.mark.parametrize("type_name", TYPES)
def test_every_type_decodes_from_the_embedded_schema_alone(tmp_path, type_name):
    msg = filled(type_name)
    writer = RecordingWriter(tmp_path / "rec")
    writer.write("/topic", type_name, serialize_message(msg), 5, 4)
    writer.close()
    with open(writer.files[0], "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        ((schema, channel, message, decoded),) = list(reader.iter_decoded_messages())
    assert schema.encoding == "ros2msg" and channel.message_encoding == "cdr"
    assert schema.name == normalize(type_name) and (message.log_time, message.publish_time) == (5, 4)
    if hasattr(msg, "header"):
        assert decoded.header.frame_id == msg.header.frame_id and decoded.header.stamp.sec == 1234
    for field, kind in msg.get_fields_and_field_types().items():
        if kind == "string":
            assert getattr(decoded, field) == getattr(msg, field)


def test_schema_text_follows_rosbag2s_layout():
    text = ros2msg_schema("forma_interfaces/msg/PersonArray")
    sections = text.split("=" * 80 + "\n")
    assert [s.splitlines()[0] for s in sections[1:]] == [
        "MSG: std_msgs/Header", "MSG: builtin_interfaces/Time", "MSG: forma_interfaces/Person",
        "MSG: geometry_msgs/Point",
    ]  # fmt: skip
    # constants are not dependencies; arrays and bounded strings are understood
    assert dependencies("forma_interfaces/Expression", 'string HAPPY = "happy"\nstd_msgs/Header header\n') == [
        "std_msgs/Header"
    ]
    assert dependencies("x/Y", "Person[] people\nstring<=8 s\nfloat64[3] v\ngeometry_msgs/Point[<=4] p\n") == [
        "x/Person",
        "geometry_msgs/Point",
    ]


def test_splits_by_size_and_by_time(tmp_path):
    data = serialize_message(filled("std_msgs/msg/String"))
    by_size = RecordingWriter(tmp_path / "size", SplitPolicy(max_bytes=2000))
    for k in range(300):
        by_size.write("/s", "std_msgs/msg/String", data, k, k)
    by_size.close()
    assert len(by_size.files) > 3
    assert all(f.stat().st_size < 2000 + 2000 for f in by_size.files)  # one flush past the limit at most
    assert sum(len(list(read_messages(f))) for f in by_size.files) == 300
    assert all(is_complete(f) for f in by_size.files)

    now = [0.0]
    by_time = RecordingWriter(tmp_path / "time", SplitPolicy(max_duration_s=1.0), clock=lambda: now[0])
    for k in range(50):
        now[0] = k * 0.1
        by_time.write("/s", "std_msgs/msg/String", data, k, k)
    by_time.close()
    assert [len(list(read_messages(f))) for f in by_time.files] == [10, 10, 10, 10, 10]


def test_a_file_cut_short_reads_to_the_cut_and_recovers(tmp_path):
    now = [0.0]
    writer = RecordingWriter(tmp_path / "crash", flush_period_s=0.25, clock=lambda: now[0])
    data = serialize_message(filled("sensor_msgs/msg/JointState"))
    for k in range(200):  # 10 ms apart: a chunk closes every 0.25 s
        now[0] = k * 0.01
        writer.write("/joint_states", "sensor_msgs/msg/JointState", data, k, k)
    path = writer.files[0]
    flushed = [m.log_time_ns for m in read_messages(path)]  # what a kill -9 leaves: no summary, no footer
    assert flushed == list(range(len(flushed))) and 175 <= len(flushed) < 200  # at most one flush period lost
    assert not is_complete(path)
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(path.read_bytes()[:-37])  # and a half-written last chunk
    kept = [m.log_time_ns for m in read_messages(cut)]
    assert kept == list(range(len(kept))) and 150 <= len(kept) <= len(flushed)
    out, count = recover(cut)
    assert count == len(kept) and is_complete(out)
    with open(out, "rb") as f:
        assert make_reader(f).get_summary().statistics.message_count == count
    # the replayer's topics, before any message: from a scan of the cut file, the summary of the recovered
    for f in (cut, out):
        assert {t: s for t, (s, _) in recorded_channels(f).items()} == {"/joint_states": "sensor_msgs/JointState"}


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(RecordError, match="does not exist"):
        RecordingWriter(tmp_path / "missing" / "rec")
    with pytest.raises(RecordError, match=">= 0"):
        SplitPolicy(max_bytes=-1)
    writer = RecordingWriter(tmp_path / "rec")
    with pytest.raises(RecordError, match="not a message type"):
        writer.write("/x", "just_a_name", b"", 0, 0)
    with pytest.raises(RecordError, match="no message package"):
        writer.write("/x", "nonexistent_msgs/msg/Thing", b"", 0, 0)
    writer.close()
    with pytest.raises(RecordError, match="exists"):
        RecordingWriter(tmp_path / "rec")  # recordings are never overwritten
    (tmp_path / "junk.mcap").write_bytes(b"this is not mcap at all")
    with pytest.raises(RecordError, match="not a readable MCAP"):
        list(read_messages(tmp_path / "junk.mcap"))
