"""`forma record`, `forma replay`, `forma recover`, wired into the `forma` command by forma_bringup,
which passes its process host in (so the recorder gets the same signal handling as a deployment,
and this package does not depend on forma_bringup)."""

from __future__ import annotations

import argparse
import signal
import sys


def add_commands(sub, process_host) -> None:
    """Add the commands to an argparse subparsers object; process_host(argv) -> exit code."""
    p = sub.add_parser("record", help="record topics to MCAP (Ctrl-C finishes the file)")
    p.add_argument("topics", nargs="*", help="topics to record (default: every topic)")
    p.add_argument("-o", "--output-dir", default="~/forma_recordings")
    p.add_argument("-n", "--name", default="", help="file name stem (default forma_<date>_<time>)")
    p.add_argument("--exclude", action="append", default=[], metavar="REGEX", help="topics not to record")
    p.add_argument("--include-hidden", action="store_true", help="also record hidden (…/_action/…) topics")
    p.add_argument("--max-bytes", type=int, default=0, help="split into a new file past this size")
    p.add_argument("--max-duration", type=float, default=0.0, help="split into a new file after this many seconds")
    p.add_argument("--use-sim-time", action="store_true", help="log times from /clock")
    p.set_defaults(func=lambda args: record(args, process_host))
    p = sub.add_parser("replay", help="play a recording back into the graph")
    p.add_argument("recording", nargs="+", help="MCAP files, or a stem whose split files <stem>_N.mcap are played")
    p.add_argument("-r", "--rate", type=float, default=1.0, help="playback speed (2 = twice as fast)")
    p.add_argument("--clock", action="store_true", help="publish /clock with the recording's time")
    p.add_argument("--topics", nargs="*", default=[], help="only these topics")
    p.add_argument(
        "--wait-for-subscribers", type=float, default=1.0, metavar="SECONDS",
        help="before playing, wait at most this long until every replayed topic has a subscriber",
    )  # fmt: skip
    p.set_defaults(func=replay)
    p = sub.add_parser("recover", help="rewrite a recording cut short by a crash as a complete MCAP file")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="default <file>.recovered.mcap")
    p.set_defaults(func=recover)


def record(args: argparse.Namespace, host) -> int:
    ros_args = [
        "-p", f"output_dir:={args.output_dir}",
        "-p", f"max_bytes:={args.max_bytes}",
        "-p", f"max_duration_s:={float(args.max_duration)}",
        "-p", f"include_hidden:={'true' if args.include_hidden else 'false'}",
        "-p", f"use_sim_time:={'true' if args.use_sim_time else 'false'}",
    ]  # fmt: skip
    if args.name:
        ros_args += ["-p", f"name:={args.name}"]
    if args.topics:
        ros_args += ["-p", "topics:=[" + ",".join(f"'{t}'" for t in args.topics) + "]"]
    if args.exclude:
        ros_args += ["-p", "exclude:=[" + ",".join(f"'{x}'" for x in args.exclude) + "]"]
    return host(["--process", "recorder", "--node", "recorder", "--ros-args", *ros_args])


def replay(args: argparse.Namespace) -> int:
    import rclpy

    from forma_record.replay import Replayer, recording_files

    files = recording_files(args.recording)
    rclpy.init()
    node = rclpy.create_node("replay")
    replayer = Replayer(node, files, args.rate, args.clock, args.topics)
    signal.signal(signal.SIGINT, lambda *_: replayer.stop_event.set())
    signal.signal(signal.SIGTERM, lambda *_: replayer.stop_event.set())
    try:
        print(f"replaying {', '.join(map(str, files))} at {args.rate:g}x", file=sys.stderr)
        report = replayer.run(wait_for_subscribers_s=args.wait_for_subscribers)
        total = sum(report.counts.values())
        print(
            f"replayed {total} messages on {len(report.counts)} topics in {report.duration_s:.1f} s; timing "
            f"error p50 {report.timing_error_ms_p50:.2f} ms, p99 {report.timing_error_ms_p99:.2f} ms, "
            f"max {report.timing_error_ms_max:.2f} ms"
        )
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def recover(args: argparse.Namespace) -> int:
    from forma_record.mcap_file import is_complete
    from forma_record.mcap_file import recover as rewrite

    if is_complete(args.file):
        print(f"{args.file} is complete; nothing to recover")
        return 0
    out, count = rewrite(args.file, args.output)
    print(f"wrote {out}: {count} messages")
    return 0
