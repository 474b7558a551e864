"""EtherCAT process-data transport over pysoem (SOEM) for N CiA-402 joint drives.

Needs a real NIC wired to the drives and raw-socket rights (root or CAP_NET_RAW); it is NOT
exercised in CI: there is no drive here, and the tests cover only the pure codec and state
machine (pdo.py, cia402.py). pysoem is imported inside open() so importing this module (and the
package) works without it.

Bring-up follows the ETG sequence: open the interface, config_init (INIT -> PRE-OP, slaves
enumerated), write the PDO mapping of every drive over SDO while in PRE-OP (setup_func runs during
config_map), config_map (-> SAFE-OP), exchange process data once so the outputs are valid, then
request OP. Distributed clocks / SYNC0 are not configured here: CSP/CSV/CST drives that require
them need config_dc and per-slave dc_sync added for the drive at hand.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from forma_hardware.ethercat.errors import EthercatError
from forma_hardware.ethercat.pdo import (
    RX_PDO_ASSIGN_INDEX,
    RX_PDO_BYTES,
    RX_PDO_MAPPING_INDEX,
    TX_PDO_ASSIGN_INDEX,
    TX_PDO_BYTES,
    TX_PDO_MAPPING_INDEX,
    RxPdo,
    TxPdo,
    decode_tx,
    encode_rx,
    rx_mapping,
    tx_mapping,
)

STATE_TIMEOUT_US = 2_000_000
RECEIVE_TIMEOUT_US = 2_000
OP_ATTEMPTS = 100
OP_CHECK_TIMEOUT_US = 50_000


def _write_pdo(slave: Any, assign_index: int, mapping_index: int, entries: Sequence[int]) -> None:
    """Disable the assignment, rewrite the mapping, re-enable (the order CoE requires)."""
    slave.sdo_write(assign_index, 0, struct.pack("<B", 0))
    slave.sdo_write(mapping_index, 0, struct.pack("<B", 0))
    for sub, entry in enumerate(entries, start=1):
        slave.sdo_write(mapping_index, sub, struct.pack("<I", entry))
    slave.sdo_write(mapping_index, 0, struct.pack("<B", len(entries)))
    slave.sdo_write(assign_index, 1, struct.pack("<H", mapping_index))
    slave.sdo_write(assign_index, 0, struct.pack("<B", 1))


class PysoemTransport:
    """One EtherCAT segment of `n_drives` CiA-402 drives, slave order = joint order."""

    def __init__(self, interface: str, n_drives: int, temperature_index: int, temperature_subindex: int = 0) -> None:
        self.interface = interface
        self.n_drives = n_drives
        self.rx_entries = rx_mapping()
        self.tx_entries = tx_mapping(temperature_index, temperature_subindex)
        self._master: Any = None

    def open(self) -> None:
        """Enumerate, map the PDOs and bring every drive to OP; EthercatError says which step failed."""
        import pysoem  # lazily: needs the C extension and is only useful with a NIC

        bus_errors = (ConnectionError, pysoem.ConfigMapError, pysoem.SdoError, pysoem.MailboxError, pysoem.PacketError)
        self._master = pysoem.Master()
        try:
            self._bring_up(pysoem)
        except bus_errors as e:
            self.close()
            raise EthercatError(f"{self.interface}: {type(e).__name__}: {e}") from e
        except EthercatError:
            self.close()
            raise

    def _bring_up(self, pysoem: Any) -> None:
        master = self._master
        master.open(self.interface)
        found = master.config_init()
        if found != self.n_drives:
            raise EthercatError(f"{self.interface}: found {found} EtherCAT slaves, expected {self.n_drives}")
        for slave in master.slaves:
            slave.setup_func = self._map_pdos  # runs in PRE-OP -> SAFE-OP, inside config_map
        master.config_map()
        if master.state_check(pysoem.SAFEOP_STATE, STATE_TIMEOUT_US) != pysoem.SAFEOP_STATE:
            raise EthercatError(f"{self.interface}: slaves did not reach SAFE-OP")
        for slave in master.slaves:
            if len(slave.output) != RX_PDO_BYTES or len(slave.input) != TX_PDO_BYTES:
                raise EthercatError(
                    f"{slave.name}: process image {len(slave.output)}/{len(slave.input)} bytes, "
                    f"expected {RX_PDO_BYTES}/{TX_PDO_BYTES}: the drive rejected the PDO mapping"
                )
        master.state = pysoem.OP_STATE
        master.send_processdata()  # valid outputs before OP, or the sync-manager watchdog trips
        master.receive_processdata(RECEIVE_TIMEOUT_US)
        master.write_state()
        for _ in range(OP_ATTEMPTS):
            master.send_processdata()
            master.receive_processdata(RECEIVE_TIMEOUT_US)
            if master.state_check(pysoem.OP_STATE, OP_CHECK_TIMEOUT_US) == pysoem.OP_STATE:
                return
        raise EthercatError(f"{self.interface}: slaves did not reach OP")

    def _map_pdos(self, slave: Any) -> None:
        _write_pdo(slave, RX_PDO_ASSIGN_INDEX, RX_PDO_MAPPING_INDEX, self.rx_entries)
        _write_pdo(slave, TX_PDO_ASSIGN_INDEX, TX_PDO_MAPPING_INDEX, self.tx_entries)

    def exchange(self, commands: Sequence[RxPdo]) -> list[TxPdo]:
        """One process-data cycle: write every drive's RxPDO, read every TxPDO.

        A working counter below the expected one means a frame or a slave was lost: the inputs are
        stale, so this raises instead of returning them.
        """
        if self._master is None:
            raise EthercatError("transport is not open")
        if len(commands) != self.n_drives:
            raise EthercatError(f"{len(commands)} commands for {self.n_drives} drives")
        slaves = self._master.slaves
        for slave, cmd in zip(slaves, commands, strict=True):
            slave.output = encode_rx(cmd)
        self._master.send_processdata()
        wkc = self._master.receive_processdata(RECEIVE_TIMEOUT_US)
        if wkc < self._master.expected_wkc:
            raise EthercatError(f"working counter {wkc} < expected {self._master.expected_wkc}: process data lost")
        return [decode_tx(bytes(slave.input)) for slave in slaves]

    def close(self) -> None:
        """Back to INIT and release the interface (the drives' watchdogs then drop their outputs)."""
        if self._master is None:
            return
        import pysoem

        master, self._master = self._master, None
        try:
            if master.slaves:
                master.state = pysoem.INIT_STATE
                master.write_state()
        finally:
            master.close()
