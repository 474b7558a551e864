"""Frame exchange over several python-can buses in one cycle: send everything, then collect the
answers until all expected ones arrived or the cycle's time budget is spent.

Sockets are waited on with select() when the bus exposes a file descriptor (SocketCAN,
udp_multicast); in-process buses (python-can's `virtual`) are polled. Frames this process sent
itself may come back (udp_multicast loops them back): the caller's `wanted` filter drops them.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Mapping

import can


class BusPort:
    """One python-can bus with the frame settings of its spec."""

    def __init__(self, name: str, bus: can.BusABC, fd: bool) -> None:
        self.name, self.bus, self.fd = name, bus, fd
        try:
            self.fileno = bus.fileno()
        except (NotImplementedError, AttributeError):
            self.fileno = None
        self.send_errors = 0
        self.receive_errors = 0

    def send(self, arbitration_id: int, data: bytes) -> bool:
        msg = can.Message(
            arbitration_id=arbitration_id, data=data, is_extended_id=False, is_fd=self.fd, bitrate_switch=self.fd
        )
        try:
            self.bus.send(msg, timeout=0.001)
            return True
        except can.CanError:
            self.send_errors += 1  # a full TX queue or a bus-off: the missing reply will say so
            return False

    def recv_now(self) -> can.Message | None:
        try:
            return self.bus.recv(timeout=0.0)
        except can.CanError:  # e.g. a datagram that does not decode into a frame
            self.receive_errors += 1
            return None

    def close(self) -> None:
        self.bus.shutdown()


def open_bus(spec) -> BusPort:
    """Open the python-can bus of a BusSpec."""
    return open_port(spec.name, spec.interface, spec.channel, spec.fd, spec.bitrate, spec.data_bitrate, spec.udp_port)


def open_port(
    name: str, interface: str, channel: str, fd: bool, bitrate: int, data_bitrate: int, udp_port: int = 0
) -> BusPort:
    kwargs: dict = {"interface": interface, "channel": channel, "fd": fd}
    if interface == "udp_multicast":
        kwargs["hop_limit"] = 0  # never leave this host
        if udp_port:
            kwargs["port"] = udp_port
    elif interface not in ("virtual", "socketcan"):
        kwargs.update(bitrate=bitrate, data_bitrate=data_bitrate)
    return BusPort(name, can.Bus(**kwargs), fd)


def collect(
    ports: Mapping[str, BusPort],
    wanted: Callable[[str, can.Message], bool],
    done: Callable[[], bool],
    deadline: float,
) -> None:
    """Receive on `ports` until done() or time.monotonic() passes deadline; wanted(port, msg)
    consumes a frame (return False to ignore it)."""
    selectable = [p for p in ports.values() if p.fileno is not None]
    polled = [p for p in ports.values() if p.fileno is None]
    by_fd = {p.fileno: p for p in selectable}
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # Frames that arrived in time still count when this thread ran late (a loaded
            # machine): read what is queued, without waiting, before giving up.
            for port in ports.values():
                while not done() and (msg := port.recv_now()) is not None:
                    wanted(port.name, msg)
            return
        got = False
        if selectable:
            ready, _, _ = select.select(list(by_fd), [], [], 0.0 if polled else remaining)
            for fd in ready:
                port = by_fd[fd]
                while (msg := port.recv_now()) is not None:
                    got = True
                    wanted(port.name, msg)
        for port in polled:
            while (msg := port.recv_now()) is not None:
                got = True
                wanted(port.name, msg)
        if polled and not got:
            time.sleep(min(remaining, 5e-5))
