"""Process data (PDO) of a humanoid joint drive in the cyclic synchronous modes, and the scaling
between joint units (rad, rad/s, N m) and drive units (encoder counts, per mille of rated torque).

RxPDO (master -> drive), 17 bytes, little-endian, packed, in this order:
    controlword          0x6040  u16
    modes_of_operation   0x6060  i8
    target_position      0x607A  i32  [encoder counts]
    target_velocity      0x60FF  i32  [counts/s]
    target_torque        0x6071  i16  [per mille of rated torque]
    torque_offset        0x60B2  i16  [per mille]
    max_torque           0x6072  u16  [per mille]
TxPDO (drive -> master), 17 bytes:
    statusword                   0x6041  u16
    modes_of_operation_display   0x6061  i8
    position_actual              0x6064  i32  [counts]
    velocity_actual              0x606C  i32  [counts/s]
    torque_actual                0x6077  i16  [per mille]
    error_code                   0x603F  u16
    temperature                  manufacturer-specific object (0x2000..0x5FFF; the index differs
                                 per vendor and is given to tx_mapping)  i16  [0.1 deg C]

EtherCAT process data is little-endian and a PDO mapping is bit-packed, so the i8 is not padded.
The drive must be mapped exactly like this (rx_mapping / tx_mapping, written by the transport);
some drives only accept word-aligned mappings and then need a different layout, not this one.

The drive units follow the CiA-402 defaults: position in increments, velocity in increments per
second (0x60A9 may select another unit: check the drive), torques in thousandths of the motor
rated torque 0x6076.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import struct

from forma_hardware.ethercat.errors import EthercatError

# struct codes -> inclusive integer range
_RANGES = {
    "b": (-(1 << 7), (1 << 7) - 1),
    "H": (0, (1 << 16) - 1),
    "h": (-(1 << 15), (1 << 15) - 1),
    "i": (-(1 << 31), (1 << 31) - 1),
}
_BITS = {"b": 8, "H": 16, "h": 16, "i": 32}

# (field, struct code, CoE index, subindex); the order is the wire order.
RX_FIELDS = (
    ("controlword", "H", 0x6040, 0),
    ("modes_of_operation", "b", 0x6060, 0),
    ("target_position", "i", 0x607A, 0),
    ("target_velocity", "i", 0x60FF, 0),
    ("target_torque", "h", 0x6071, 0),
    ("torque_offset", "h", 0x60B2, 0),
    ("max_torque", "H", 0x6072, 0),
)
TX_FIELDS = (
    ("statusword", "H", 0x6041, 0),
    ("modes_of_operation_display", "b", 0x6061, 0),
    ("position_actual", "i", 0x6064, 0),
    ("velocity_actual", "i", 0x606C, 0),
    ("torque_actual", "h", 0x6077, 0),
    ("error_code", "H", 0x603F, 0),
    ("temperature", "h", None, None),  # manufacturer object: index given to tx_mapping
)
_RX_STRUCT = struct.Struct("<" + "".join(f[1] for f in RX_FIELDS))
_TX_STRUCT = struct.Struct("<" + "".join(f[1] for f in TX_FIELDS))
RX_PDO_BYTES = _RX_STRUCT.size  # 17
TX_PDO_BYTES = _TX_STRUCT.size  # 17

RX_PDO_MAPPING_INDEX = 0x1600  # first RxPDO mapping object
TX_PDO_MAPPING_INDEX = 0x1A00  # first TxPDO mapping object
RX_PDO_ASSIGN_INDEX = 0x1C12  # sync manager 2 (outputs) PDO assignment
TX_PDO_ASSIGN_INDEX = 0x1C13  # sync manager 3 (inputs) PDO assignment


@dataclasses.dataclass(frozen=True)
class RxPdo:
    """Master -> drive, in drive units."""

    controlword: int
    modes_of_operation: int
    target_position: int  # [counts]
    target_velocity: int  # [counts/s]
    target_torque: int  # [per mille]
    torque_offset: int  # [per mille]
    max_torque: int  # [per mille]


@dataclasses.dataclass(frozen=True)
class TxPdo:
    """Drive -> master, in drive units."""

    statusword: int
    modes_of_operation_display: int
    position_actual: int  # [counts]
    velocity_actual: int  # [counts/s]
    torque_actual: int  # [per mille]
    error_code: int
    temperature: int  # [0.1 deg C]


def _values(pdo: RxPdo | TxPdo, fields: tuple) -> list[int]:
    """The fields in wire order, each checked against its integer range (struct would only say 'out of range')."""
    out = []
    for name, code, _, _ in fields:
        v = getattr(pdo, name)
        try:
            v = operator.index(v)
        except TypeError:
            raise EthercatError(f"PDO field {name} = {v!r} is not an integer") from None
        lo, hi = _RANGES[code]
        if not lo <= v <= hi:
            raise EthercatError(f"PDO field {name} = {v} is outside [{lo}, {hi}]")
        out.append(v)
    return out


def _check_length(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise EthercatError(f"{what} has {len(data)} bytes, expected {size}")


def encode_rx(pdo: RxPdo) -> bytes:
    return _RX_STRUCT.pack(*_values(pdo, RX_FIELDS))


def decode_rx(data: bytes) -> RxPdo:
    """The drive's side (used by simulated drives and tests)."""
    _check_length(data, RX_PDO_BYTES, "RxPDO")
    return RxPdo(*_RX_STRUCT.unpack(data))


def encode_tx(pdo: TxPdo) -> bytes:
    """The drive's side (used by simulated drives and tests)."""
    return _TX_STRUCT.pack(*_values(pdo, TX_FIELDS))


def decode_tx(data: bytes) -> TxPdo:
    _check_length(data, TX_PDO_BYTES, "TxPDO")
    return TxPdo(*_TX_STRUCT.unpack(data))


def _mapping_word(index: int, subindex: int, bits: int) -> int:
    """A PDO mapping entry: index (16 bit) | subindex (8 bit) | length in bits (8 bit)."""
    return (index << 16) | (subindex << 8) | bits


def rx_mapping() -> tuple[int, ...]:
    """The entries to write into 0x1600:01.. for the RxPDO above."""
    return tuple(_mapping_word(index, sub, _BITS[code]) for _, code, index, sub in RX_FIELDS)


def tx_mapping(temperature_index: int, temperature_subindex: int = 0) -> tuple[int, ...]:
    """The entries to write into 0x1A00:01.. for the TxPDO above; temperature is the vendor's object."""
    if not 0x2000 <= temperature_index <= 0x5FFF:
        raise EthercatError(
            f"temperature object 0x{temperature_index:04X} is not in the manufacturer area 0x2000..0x5FFF"
        )
    if not 0 <= temperature_subindex <= 0xFF:
        raise EthercatError(f"temperature subindex {temperature_subindex} is outside 0..255")
    out = []
    for _, code, index, sub in TX_FIELDS:
        if index is None:
            index, sub = temperature_index, temperature_subindex
        out.append(_mapping_word(index, sub, _BITS[code]))
    return tuple(out)


def _finite(x: float, what: str) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise EthercatError(f"{what} {x} is not a finite number")
    return x


def _saturate(x: float, code: str) -> tuple[int, bool]:
    """x rounded to the nearest integer and clamped to the range of code; (value, saturated)."""
    lo, hi = _RANGES[code]
    v = round(x)
    return min(max(v, lo), hi), not lo <= v <= hi


@dataclasses.dataclass(frozen=True)
class DriveScaling:
    """Joint units <-> drive units of one joint.

    counts_per_rev: encoder counts per motor revolution (0x608F).
    gear_ratio: motor revolutions per joint revolution; 1 when the drive already reports
        output-side values (then counts_per_rev and rated_torque_nm are output-side too).
    rated_torque_nm: the motor rated torque 0x6076 [N m], i.e. 1000 per mille; joint torque is
        motor torque x gear_ratio (gear losses are not modelled).
    direction: +1, or -1 when the drive's positive sense is the joint's negative.

    Conversions to drive units round to the nearest count and saturate at the field's integer
    range, returning (value, saturated) so a clamp is always reported; NaN/inf raise EthercatError.
    """

    counts_per_rev: int
    gear_ratio: float
    rated_torque_nm: float
    direction: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.counts_per_rev, int) and self.counts_per_rev > 0):
            raise EthercatError(f"counts_per_rev must be a positive integer, got {self.counts_per_rev!r}")
        for name in ("gear_ratio", "rated_torque_nm"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise EthercatError(f"{name} must be finite and > 0, got {v}")
        if self.direction not in (1, -1):
            raise EthercatError(f"direction must be +1 or -1, got {self.direction}")

    @property
    def counts_per_rad(self) -> float:
        return self.counts_per_rev * self.gear_ratio / (2.0 * math.pi)

    @property
    def permille_per_nm(self) -> float:
        """Drive torque units per joint N m."""
        return 1000.0 / (self.rated_torque_nm * self.gear_ratio)

    def position_to_counts(self, position_rad: float) -> tuple[int, bool]:
        x = _finite(position_rad, "position [rad]")
        return _saturate(self.direction * x * self.counts_per_rad, "i")

    def velocity_to_counts(self, velocity_rad_s: float) -> tuple[int, bool]:
        x = _finite(velocity_rad_s, "velocity [rad/s]")
        return _saturate(self.direction * x * self.counts_per_rad, "i")

    def torque_to_permille(self, torque_nm: float) -> tuple[int, bool]:
        x = _finite(torque_nm, "torque [N m]")
        return _saturate(self.direction * x * self.permille_per_nm, "h")

    def torque_limit_to_permille(self, torque_limit_nm: float) -> tuple[int, bool]:
        """A torque magnitude (max_torque 0x6072); a negative limit is an error, not a clamp."""
        x = _finite(torque_limit_nm, "torque limit [N m]")
        if x < 0:
            raise EthercatError(f"torque limit {x} N m is negative")
        return _saturate(x * self.permille_per_nm, "H")

    def counts_to_position(self, counts: int) -> float:
        return self.direction * counts / self.counts_per_rad

    def counts_to_velocity(self, counts_s: int) -> float:
        return self.direction * counts_s / self.counts_per_rad

    def permille_to_torque(self, permille: int) -> float:
        return self.direction * permille / self.permille_per_nm


@dataclasses.dataclass(frozen=True)
class JointFeedback:
    """A TxPDO in joint units."""

    statusword: int
    mode: int  # modes_of_operation_display
    position_rad: float
    velocity_rad_s: float
    torque_nm: float
    error_code: int
    temperature_c: float


def joint_command(
    scaling: DriveScaling,
    controlword: int,
    mode: int,
    position_rad: float,
    velocity_rad_s: float,
    torque_nm: float,
    torque_offset_nm: float,
    max_torque_nm: float,
) -> tuple[RxPdo, tuple[str, ...]]:
    """An RxPDO from joint units; also the names of the fields that saturated (empty if none)."""
    pos, s_pos = scaling.position_to_counts(position_rad)
    vel, s_vel = scaling.velocity_to_counts(velocity_rad_s)
    tau, s_tau = scaling.torque_to_permille(torque_nm)
    off, s_off = scaling.torque_to_permille(torque_offset_nm)
    lim, s_lim = scaling.torque_limit_to_permille(max_torque_nm)
    pdo = RxPdo(controlword, mode, pos, vel, tau, off, lim)
    _values(pdo, RX_FIELDS)  # controlword and mode are passed through: check them now, not at encode
    flags = zip(
        ("target_position", "target_velocity", "target_torque", "torque_offset", "max_torque"),
        (s_pos, s_vel, s_tau, s_off, s_lim),
        strict=True,
    )
    return pdo, tuple(name for name, s in flags if s)


def joint_feedback(scaling: DriveScaling, tx: TxPdo) -> JointFeedback:
    return JointFeedback(
        statusword=tx.statusword,
        mode=tx.modes_of_operation_display,
        position_rad=scaling.counts_to_position(tx.position_actual),
        velocity_rad_s=scaling.counts_to_velocity(tx.velocity_actual),
        torque_nm=scaling.permille_to_torque(tx.torque_actual),
        error_code=tx.error_code,
        temperature_c=tx.temperature / 10.0,
    )
