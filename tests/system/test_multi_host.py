"""Two hosts and the link between them (issue 21, deliverable 4): `sim_two_hosts_wbc`'s `robot` host
(sim, safety supervisor, hands) and `brain` host (the WBC) in two network namespaces joined by a
veth pair the test makes (traffic stays inside them), every participant on UDPv4 only (shared memory
would cross the namespaces). Discovery across the link must bring the robot ACTIVE on the brain's
WBC; `ip link set down` must end in the body held by the hardware within its command watchdog
(robot time), the robot standing (simulator truth) and no wbc/status crossing the cut link; after
`ip link set up` the supervisor's start ramp must hand the body back to the WBC (tests/support/
multi_host.py). `python -m tests.bench.multi_host_bench` measures link_cut_to_hold_ms."""

from __future__ import annotations

import os

import pytest

from tests.support.multi_host import run_link_cuts
from tests.support.netns import TwoHosts, netns_unavailable

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(netns_unavailable()), reason=netns_unavailable() or "runs"),
]


def test_a_cut_link_holds_the_body_and_the_wbc_takes_it_back_through_the_ramp(tmp_path, domain_id):
    (cut,) = run_link_cuts(tmp_path, domain_id)  # (in a process of its own: tests/support/multi_host.py)
    print(cut.summary())
    leftover_links = TwoHosts(f"forma{os.getpid()}").leftovers()  # the namespaces and the pair, deleted

    assert cut.hold_ms is not None and cut.hold_ms <= cut.hold_budget_ms, cut.summary()
    assert cut.wbc_status_during_cut == 0, cut.summary()
    assert cut.active_again and cut.via_ramp and cut.wbc_active_again, cut.summary()
    assert not cut.damped, cut.summary()
    assert not cut.problems, cut.summary()
    assert not leftover_links, leftover_links
