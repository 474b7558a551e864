"""Errors of the EtherCAT transport: one family under HardwareError, so a hardware node that damps
on any HardwareError also damps on a bus or drive problem."""

from forma_hardware.errors import HardwareError


class EthercatError(HardwareError):
    """An EtherCAT / CiA-402 value, frame or bus state is invalid; the message says which."""
