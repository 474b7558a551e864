"""forma_process: run several nodes in one process, on one executor (Python's answer to
component composition, DESIGN §6).

    forma_process --process sim --node sim:sim --node stand:stand --ros-args --params-file f.yaml

--realtime-priority N puts the process on SCHED_FIFO N before anything starts, so every thread
(the nodes' loop threads, DDS's receive threads) inherits it (forma_common.scheduling); without
the privilege it runs at normal priority and logs how to allow it. --cpus 1 keeps the process's
control loop thread (the sim's physics, the WBC's ticks, the bus cycle) on CPU 1; its other threads
keep every core. CPUs the machine lacks are left out, and said.

SIGINT/SIGTERM shut the nodes down cleanly: the host handles the signals itself (rclpy's handlers
are off) so that every node's destroy_node runs, and its threads stop, before the ROS context
goes away; otherwise a node's own thread could still publish into a dead context. A node
that cannot start (bad parameter, broken config) or crashes logs why; the process exits with 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from forma_bringup.registry import load_node_class
from forma_common.dds import use_forma_dds_profile
from forma_common.node import refuse_malformed_parameter_requests
from forma_common.scheduling import MAX_PRIORITY, enter_realtime, set_loop_cpus

EXIT_FAILURE = 1
EXECUTORS = ("events", "single", "multi")


def make_executor(kind: str):
    """single (default) / multi: the classic executors. events: rclpy's experimental
    EventsExecutor; measured here (rclpy 7.1.6) it busy-waits in clock_gettime and burns
    60-70 % of a core per process, so it is opt-in only."""
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor()
    return SingleThreadedExecutor() if kind == "single" else MultiThreadedExecutor()


def _cpu_list(text: str) -> tuple[int, ...]:
    try:
        cpus = tuple(int(c) for c in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: CPU numbers separated by commas, e.g. 1 or 0,1") from None
    if any(c < 0 for c in cpus):
        raise argparse.ArgumentTypeError(f"{text!r}: CPU numbers are >= 0")
    return cpus


def parse_args(argv: list[str]) -> argparse.Namespace:
    own = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    parser = argparse.ArgumentParser(prog="forma_process", description=__doc__.splitlines()[0])
    parser.add_argument("--process", default="forma", help="process name, for logs")
    parser.add_argument("--executor", choices=EXECUTORS, default="single")
    parser.add_argument(
        "--cpus",
        type=_cpu_list,
        default=(),
        metavar="N[,N...]",
        help="CPUs the process's control loop thread runs on (default: any)",
    )
    parser.add_argument(
        "--realtime-priority",
        type=int,
        default=0,
        choices=range(MAX_PRIORITY + 1),
        metavar=f"0..{MAX_PRIORITY}",
        help="SCHED_FIFO priority for every thread of the process (0: normal scheduling)",
    )
    parser.add_argument(
        "--node",
        action="append",
        required=True,
        metavar="REGISTRY_NAME[:ROS_NAME]",
        help="node to run, by registry name (see `forma nodes`), optionally renamed",
    )
    return parser.parse_args(own)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    realtime_problem = enter_realtime(args.realtime_priority) if args.realtime_priority else ""
    cpus_problem = set_loop_cpus(args.cpus) if args.cpus else ""
    use_forma_dds_profile()  # before the first participant: Fast DDS reads its profile then
    rclpy.init(args=[sys.argv[0], *argv], signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    logger = rclpy.logging.get_logger(args.process)
    if realtime_problem:
        logger.warning(f"process {args.process} runs at normal priority: {realtime_problem}")
    elif args.realtime_priority:
        logger.info(f"process {args.process}: SCHED_FIFO priority {args.realtime_priority}")
    if cpus_problem:
        logger.warning(f"process {args.process}: {cpus_problem}")
    elif args.cpus:
        logger.info(f"process {args.process}: control loop on CPU {','.join(str(c) for c in args.cpus)}")
    executor = make_executor(args.executor)
    nodes = []
    code = 0
    try:
        for spec in args.node:
            registry_name, _, ros_name = spec.partition(":")
            cls = load_node_class(registry_name)
            node = cls(node_name=ros_name or registry_name)
            refuse_malformed_parameter_requests(node)  # (rclpy's own raised out of the executor)
            nodes.append(node)
            executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # a node failed to start or crashed: say which and why, exit non-zero
        logger.fatal(f"process {args.process} stopped: {type(exc).__name__}: {exc}")
        code = EXIT_FAILURE
    finally:
        for node in reversed(nodes):
            try:
                node.destroy_node()
            except Exception as exc:  # keep shutting the others down
                logger.error(f"destroying {node.get_name()}: {exc}")
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
