"""ROS domain IDs for the integration and system tests, handed out in turn by one counter for the
whole pytest process: a test never shares its domain with another test's deployment or probe
(hand-picked constants per file collided).

The tests cycle through 1..49: domains up to 101 keep their DDS ports (7400 + 250 x domain) below
Linux's ephemeral port range (32768..), where a port the OS handed to another socket would clash;
the benches (tests/bench) keep their own constants 53..99. Tests run one after another and stop
their processes by PID, so a domain freed 49 tests ago is quiet again.

Take one through the fixtures in tests/conftest.py (`domain_id` per test, `module_domain_id` per
module); a test that needs a second domain calls new_domain_id()."""

from __future__ import annotations

import itertools
import os

FIRST_DOMAIN_ID = 1
LAST_DOMAIN_ID = 49
# FORMA_TEST_DOMAINS=FIRST-LAST gives a pytest process its own range, for two test runs on one
# machine at once (both starting at 1 shared domains: one run's probe saw the other's nodes)
_RANGE = os.environ.get("FORMA_TEST_DOMAINS", "")
if _RANGE:
    FIRST_DOMAIN_ID, LAST_DOMAIN_ID = (int(v) for v in _RANGE.split("-"))
    if not 0 <= FIRST_DOMAIN_ID <= LAST_DOMAIN_ID <= 101 or LAST_DOMAIN_ID >= 53 and FIRST_DOMAIN_ID <= 99:
        raise ValueError(f"FORMA_TEST_DOMAINS={_RANGE}: a range within 0..52 or 100..101 (benches use 53..99)")

_next_domain_id = itertools.cycle(range(FIRST_DOMAIN_ID, LAST_DOMAIN_ID + 1))


def new_domain_id() -> int:
    """The next ROS domain ID of the cycle: none of the last 48 callers has it."""
    return next(_next_domain_id)
