"""Subscriptions the executor never sees, read by the node's own code when it needs a message.

rclpy's executor spends ~150 us of Python per wake-up here (measured on the 2-core machine: a
node subscribed to joint_states, imu/data and two foot wrenches at 500 Hz uses 0.3 of a core
doing nothing else). Every node that read the 500 Hz hardware streams that way paid a fifth of
a core for it. Two cheaper ways onto the same DDS topics, same QoS, same names and remaps:

- polled: a node that runs on its own timer (the supervisor at 100 Hz, the hands, the console)
  takes the newest sample when it ticks: no wake-up per message at all;
- waited: a control loop (the whole-body controller, the hardware's physics or bus cycle) blocks
  in its own thread on a wait set that holds only its inputs (InputWaiter) and takes what
  arrived: ~30 us per wake-up.

The subscription belongs to the node (it shows in the graph under the node's name, and
`--ros-args -r` remaps apply), but it is never added to the node's executor: exactly one thread
must read it. Built on the same rclpy calls as rclpy.wait_for_message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rclpy.guard_condition import GuardCondition
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message

from forma_common.state_cdr import CdrFormatError


class DirectSubscription:
    """One topic read by its owner's thread: take() / take_newest(), never a callback."""

    def __init__(self, node: Node, msg_type, topic: str, qos: QoSProfile, parse: Callable | None = None) -> None:
        """parse: reads a message's serialized bytes itself (state_cdr.JointStateReader().read:
        joint_states at ~8 instead of ~50 us); bytes it cannot read (CdrFormatError) go through
        rclpy's deserializer, so take() and take_newest() then return either kind."""
        msg_type.__class__.__import_type_support__()  # what node.create_subscription does first
        with node.handle:
            self._handle = _rclpy.Subscription(node.handle, msg_type, topic, qos.get_c_qos_profile())
        self.msg_type = msg_type
        self.topic_name: str = self._handle.get_topic_name()
        self.parse = parse
        self.latest = None  # the newest message taken so far (None before the first)
        self.taken = 0  # messages taken so far

    @property
    def handle(self):
        return self._handle

    def take(self):
        """The oldest waiting message, or None when nothing waits."""
        if self.parse is not None:
            data = self.take_serialized()
            if data is not None:
                self.latest = self._converted(data)
            return None if data is None else self.latest
        with self._handle:
            result = self._handle.take_message(self.msg_type, False)
        if result is None:
            return None
        self.latest = result[0]
        self.taken += 1
        return self.latest

    def _converted(self, data: bytes):
        if self.parse is not None:
            try:
                return self.parse(data)
            except CdrFormatError:
                pass  # (another middleware's encoding, say): rclpy reads every one
        return deserialize_message(data, self.msg_type)

    def take_serialized(self) -> bytes | None:
        """The oldest waiting message as its serialized bytes, or None: for a reader that parses
        them itself (forma_common.state_cdr)."""
        with self._handle:
            result = self._handle.take_message(self.msg_type, True)
        if result is None:
            return None
        self.taken += 1
        return result[0]

    def take_all(self) -> list:
        """Every waiting message, oldest first (at most the QoS depth)."""
        out = []
        while (msg := self.take()) is not None:
            out.append(msg)
        return out

    def take_newest(self):
        """The newest waiting message (older ones are dropped unread), or None when nothing new
        came. Older ones are taken serialized and never converted to Python (a RobotState costs
        ~50 us to convert)."""
        newest = self.take_newest_serialized()
        if newest is None:
            return None
        self.latest = self._converted(newest)
        return self.latest

    def take_newest_serialized(self) -> bytes | None:
        """The newest waiting message as its serialized bytes (older ones dropped), or None: for
        a reader that parses them itself (forma_common.state_cdr)."""
        newest = None
        with self._handle:
            while (result := self._handle.take_message(self.msg_type, True)) is not None:
                newest = result[0]
        if newest is not None:
            self.taken += 1
        return newest

    def publisher_count(self) -> int:
        with self._handle:
            return self._handle.get_publisher_count()

    def destroy(self) -> None:
        self._handle.destroy_when_not_in_use()


class InputWaiter:
    """Blocks a loop thread until one of its subscriptions holds a message, a timeout passes or
    another thread calls wake() (shutdown, or work for the loop)."""

    def __init__(self, node: Node, subscriptions: Sequence[DirectSubscription]) -> None:
        self._subscriptions = list(subscriptions)
        self._context = node.context
        self._wake = GuardCondition(None, None, context=self._context)
        self._wait_set = _rclpy.WaitSet(len(self._subscriptions), 1, 0, 0, 0, 0, self._context.handle)

    def wait(self, timeout_s: float) -> bool:
        """True when a subscription holds a message; False on timeout or wake()."""
        ws = self._wait_set
        handles = [s.handle for s in self._subscriptions]
        with self._wake.handle:
            for h in handles:
                h.__enter__()
            try:
                ws.clear_entities()
                for h in handles:
                    ws.add_subscription(h)
                ws.add_guard_condition(self._wake.handle)
                ws.wait(max(0, int(timeout_s * 1e9)))
                return bool(ws.get_ready_entities("subscription"))
            finally:
                for h in handles:
                    h.__exit__(None, None, None)

    def wake(self) -> None:
        self._wake.trigger()

    def destroy(self) -> None:
        self._wake.destroy()
