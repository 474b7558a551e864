"""What the VLA package refuses, each with the reason a user can act on."""

from __future__ import annotations


class VlaError(RuntimeError):
    """Base of the package's errors."""


class ActionError(VlaError):
    """An action vector that must not reach the robot (wrong size, not finite, beyond a limit)."""


class ChunkRefused(VlaError):
    """A chunk the executor will not play (malformed, not finite, too old); the plan is unchanged."""


class PolicyLoadError(VlaError):
    """A model file that cannot serve as a policy: missing, unreadable, or a signature that does
    not match what the node feeds it."""


class ObservationError(VlaError):
    """An observation that must not reach the policy (corrupt image, non-finite state, stale)."""


class DatasetError(VlaError):
    """A dataset that cannot be written or read as a LeRobot dataset of forma_vla's features."""
