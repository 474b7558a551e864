"""Two hosts on one machine (issue 21, deliverable 4): two network namespaces joined by a veth pair
that the test makes itself, so that a multi-host deployment's DDS traffic between its hosts crosses
one link the test can cut (`ip link set down`) and restore. Nothing leaves the two namespaces: the
pair's addresses (10.231.0.1/24, 10.231.0.2/24) exist only inside them.

Fast DDS's shared-memory transport ignores network namespaces (every process sees the same
/dev/shm): with it, processes of the two "hosts" would talk through memory and a cut link would cut
nothing. Every participant here therefore runs with a UDPv4-only profile (udp_only_profile), which
forma_common.dds leaves alone (a user profile replaces Forma's).

Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns) and iproute2 with `ip netns`: netns_unavailable()
says why not. Everything made here is deleted by TwoHosts.close(), whatever failed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pathlib
import shutil
import subprocess
from collections.abc import Iterator

from tests.support.ros import LaunchedDeployment

SUBNET = "10.231.0"
CLONE_NEWNET = 0x40000000

UDP_ONLY_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- UDPv4 only (tests/support/netns.py): shared memory would cross network namespaces. -->
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>udp_only</transport_id>
      <type>UDPv4</type>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="udp_only_participant" is_default_profile="true">
    <rtps>
      <userTransports>
        <transport_id>udp_only</transport_id>
      </userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""


def netns_unavailable() -> str:
    """Why the two-namespace setup cannot run here ("" if it can)."""
    if os.geteuid() != 0:
        return "needs root: it creates network namespaces and a veth pair"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` unavailable: {probe.stderr.strip()}"
    return ""


def udp_only_profile(folder: pathlib.Path) -> pathlib.Path:
    """Write the UDPv4-only Fast DDS profile into folder; its path, for FASTRTPS_DEFAULT_PROFILES_FILE."""
    path = folder / "fastdds_udp_only.xml"
    path.write_text(UDP_ONLY_PROFILE)
    return path


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class TwoHosts:
    """Namespaces `<tag>a` and `<tag>b` (tag: forma<pid>), joined by veth `<tag>a` (10.231.0.1, in
    a) and `<tag>b` (10.231.0.2, in b), loopback up in both, multicast (DDS discovery) routed over the
    pair. A context manager: close() deletes both namespaces, which deletes the pair."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or f"forma{os.getpid()}"  # <= 15 characters with the suffix (IFNAMSIZ)
        self.ns = (f"{self.tag}a", f"{self.tag}b")
        self.veth = (f"{self.tag}a", f"{self.tag}b")
        self.addresses = (f"{SUBNET}.1", f"{SUBNET}.2")

    def __enter__(self) -> TwoHosts:
        try:
            for ns in self.ns:
                _ip("netns", "add", ns)
            _ip("link", "add", self.veth[0], "netns", self.ns[0], "type", "veth",
                "peer", "name", self.veth[1], "netns", self.ns[1])
            for ns, veth, address in zip(self.ns, self.veth, self.addresses, strict=True):
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", veth)
                _ip("-n", ns, "link", "set", veth, "up")
                # discovery's multicast (239.255.0.1) needs a route: the namespace has no default one
                _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", veth)
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Delete the namespaces (and with them the pair); a pair left in the root namespace by a
        half-made setup too. Never raises: it runs in finally blocks."""
        for ns in self.ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for veth in self.veth:
            if pathlib.Path(f"/sys/class/net/{veth}").exists():
                subprocess.run(["ip", "link", "del", veth], capture_output=True, check=False)

    def leftovers(self) -> list[str]:
        """The namespaces and links of this setup still present (after close(): none)."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        names = {line.split()[0] for line in listed.splitlines() if line.strip()}
        return [ns for ns in self.ns if ns in names] + [
            v for v in self.veth if pathlib.Path(f"/sys/class/net/{v}").exists()
        ]

    def set_link(self, up: bool) -> None:
        """Cut (up=False) or restore the link: host a's end down takes the pair's carrier with it."""
        _ip("-n", self.ns[0], "link", "set", self.veth[0], "up" if up else "down")
        if up:
            # the multicast route went with the link: discovery of anything new needs it back
            subprocess.run(["ip", "-n", self.ns[0], "route", "replace", "224.0.0.0/4", "dev", self.veth[0]],
                           capture_output=True, check=False)

    def launch(self, index: int, deployment: str, host: str, domain_id: int, log_dir: pathlib.Path,
               profile: pathlib.Path, params: list[str] = ()) -> LaunchedDeployment:
        """`forma launch <deployment> --host <host>` inside namespace `index` (0: a, 1: b), UDPv4
        only, discovery over the subnet (LaunchedDeployment's default is localhost only)."""
        return LaunchedDeployment(
            deployment, domain_id, log_dir, params, host=host,
            wrapper=["ip", "netns", "exec", self.ns[index]],
            env={"FASTRTPS_DEFAULT_PROFILES_FILE": str(profile), "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"},
        )

    @contextlib.contextmanager
    def inside(self, index: int) -> Iterator[None]:
        """Run the calling thread in namespace `index` for the block: sockets (a DDS participant's)
        and threads made meanwhile stay there after the thread returns to its own namespace."""
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns[index]}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {self.ns[index]}")
            try:
                yield
            finally:
                if libc.setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the test's own network namespace")
        finally:
            os.close(target)
            os.close(own)
