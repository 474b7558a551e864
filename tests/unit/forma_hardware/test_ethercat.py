"""EtherCAT CiA-402 transport: statusword decoding, the master against a simulated drive, the PDO
codec and joint-unit scaling. No drive and no NIC: pysoem is replaced by a fake where needed."""

from __future__ import annotations

import math
import subprocess
import sys
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forma_hardware import HardwareError
from forma_hardware.ethercat import (
    RX_PDO_BYTES,
    TX_PDO_BYTES,
    Cia402Master,
    DriveScaling,
    DriveState,
    EthercatError,
    ModeOfOperation,
    RxPdo,
    TxPdo,
    cia402,
    decode_rx,
    decode_state,
    decode_statusword,
    decode_tx,
    describe_error_code,
    encode_rx,
    encode_tx,
    joint_command,
    joint_feedback,
    pdo,
)

S = DriveState

# ----------------------------------------------------------------------------------------------
# Statusword decoding. The table is written out here again from CiA 402 (x = don't care):
#   NRTSO xxxx xxxx x0xx 0000   SOD x1xx 0000   RTSO x01x 0001   SO x01x 0011   OE x01x 0111
#   QSA   x00x 0111             FRA x0xx 1111   FAULT x0xx 1000
SPEC_TABLE = [
    (0x4F, 0x00, S.NOT_READY_TO_SWITCH_ON),
    (0x4F, 0x40, S.SWITCH_ON_DISABLED),
    (0x6F, 0x21, S.READY_TO_SWITCH_ON),
    (0x6F, 0x23, S.SWITCHED_ON),
    (0x6F, 0x27, S.OPERATION_ENABLED),
    (0x6F, 0x07, S.QUICK_STOP_ACTIVE),
    (0x4F, 0x0F, S.FAULT_REACTION_ACTIVE),
    (0x4F, 0x08, S.FAULT),
]


@pytest.mark.parametrize(
    ("word", "state"),
    [
        # low byte worked by hand: bit 6 SOD, 5 QS (active low), 4 VE, 3 F, 2 OE, 1 SO, 0 RTSO; 0x200 = remote
        (0x0000, S.NOT_READY_TO_SWITCH_ON),  # 0000 0000 & 0x4F = 0x00
        (0x0250, S.SWITCH_ON_DISABLED),  # 0101 0000 & 0x4F = 0x40
        (0x0270, S.SWITCH_ON_DISABLED),  # QS bit is don't-care in SOD
        (0x0231, S.READY_TO_SWITCH_ON),  # 0011 0001 & 0x6F = 0x21
        (0x0233, S.SWITCHED_ON),  # 0011 0011 & 0x6F = 0x23
        (0x0237, S.OPERATION_ENABLED),  # 0011 0111 & 0x6F = 0x27
        (0x06B7, S.OPERATION_ENABLED),  # + warning (bit 7) + target reached (bit 10)
        (0x0217, S.QUICK_STOP_ACTIVE),  # 0001 0111 & 0x6F = 0x07
        (0x0208, S.FAULT),  # 0000 1000 & 0x4F = 0x08
        (0x0228, S.FAULT),  # QS bit is don't-care in FAULT
        (0x021F, S.FAULT_REACTION_ACTIVE),  # 0001 1111 & 0x4F = 0x0F
        (0x020F, S.FAULT_REACTION_ACTIVE),  # 0000 1111 & 0x4F = 0x0F
    ],
)
def test_statusword_golden_vectors(word, state):
    assert decode_state(word) is state


def test_statusword_flags():
    st_ = decode_statusword(0x0EB7)  # OE | warning | remote | target reached | internal limit
    assert st_.state is S.OPERATION_ENABLED and not st_.fault
    assert st_.warning and st_.remote and st_.target_reached and st_.internal_limit_active and st_.voltage_enabled
    st_ = decode_statusword(0x0021)
    assert st_.state is S.READY_TO_SWITCH_ON
    assert not (st_.warning or st_.remote or st_.target_reached or st_.internal_limit_active or st_.voltage_enabled)
    assert decode_statusword(0x0208).fault and decode_statusword(0x020F).fault


def test_every_statusword_decodes_to_its_unique_pattern_or_is_refused():
    for word in range(0x10000):
        matches = [state for mask, value, state in SPEC_TABLE if word & mask == value]
        assert len(matches) <= 1, hex(word)
        if matches:
            assert decode_state(word) is matches[0], hex(word)
        else:
            with pytest.raises(EthercatError, match=f"0x{word:04X} matches no CiA-402 state"):
                decode_state(word)


@given(st.sampled_from(SPEC_TABLE), st.integers(0, 0xFFFF))
def test_dont_care_bits_do_not_change_the_state(row, noise):
    mask, value, state = row
    assert decode_state((noise & ~mask & 0xFFFF) | value) is state


@pytest.mark.parametrize("word", [-1, 0x10000, 1.5, "0x0237", None])
def test_statusword_outside_u16_is_refused(word):
    with pytest.raises(EthercatError):
        decode_state(word)


def test_controlword_commands_and_modes():
    assert cia402.SHUTDOWN == 0x06
    assert cia402.SWITCH_ON == 0x07 == cia402.DISABLE_OPERATION
    assert cia402.ENABLE_OPERATION == 0x0F
    assert cia402.DISABLE_VOLTAGE == 0x00
    assert cia402.QUICK_STOP == 0x02
    assert cia402.FAULT_RESET == 0x80
    assert (ModeOfOperation.CSP, ModeOfOperation.CSV, ModeOfOperation.CST) == (8, 9, 10)


def test_error_code_description():
    assert describe_error_code(0x0000) == "0x0000 (no error)"
    assert describe_error_code(0x4210) == "0x4210 (device temperature)"
    assert describe_error_code(0x8611) == "0x8611 (monitoring)"
    assert describe_error_code(0xFF01) == "0xFF01 (device specific)"


# ----------------------------------------------------------------------------------------------
# A simulated drive: the CiA-402 transition table, driven only by controlwords.
STATUSWORD_OF = {
    S.NOT_READY_TO_SWITCH_ON: 0x0000,
    S.SWITCH_ON_DISABLED: 0x0250,
    S.READY_TO_SWITCH_ON: 0x0231,
    S.SWITCHED_ON: 0x0233,
    S.OPERATION_ENABLED: 0x0237,
    S.QUICK_STOP_ACTIVE: 0x0217,
    S.FAULT_REACTION_ACTIVE: 0x021F,
    S.FAULT: 0x0208,
}


class FakeDrive:
    """Applies one controlword per cycle; records the numbered transitions it took."""

    def __init__(self, state: DriveState, fault_clears: bool = True) -> None:
        self.state = state
        self.fault_clears = fault_clears  # False: the fault condition persists, resets fail
        self.last_cw = 0
        self.transitions: list[int] = []

    @property
    def statusword(self) -> int:
        return STATUSWORD_OF[self.state]

    def _go(self, number: int, state: DriveState) -> None:
        self.transitions.append(number)
        self.state = state

    def apply(self, cw: int) -> None:
        rising = bool(cw & 0x80) and not self.last_cw & 0x80
        self.last_cw = cw
        s = self.state
        ev, qs, so, eo = cw & 0x02, cw & 0x04, cw & 0x01, cw & 0x08  # qs: 1 = no quick stop
        if s is S.NOT_READY_TO_SWITCH_ON:
            self._go(1, S.SWITCH_ON_DISABLED)
        elif s is S.FAULT_REACTION_ACTIVE:
            self._go(14, S.FAULT)
        elif s is S.FAULT:
            if rising and self.fault_clears:
                self._go(15, S.SWITCH_ON_DISABLED)
        elif cw & 0x80:
            raise AssertionError(f"fault reset bit sent in {s.name}")
        elif not ev:  # disable voltage
            number = {S.READY_TO_SWITCH_ON: 7, S.SWITCHED_ON: 10, S.OPERATION_ENABLED: 9, S.QUICK_STOP_ACTIVE: 12}
            if s in number:
                self._go(number[s], S.SWITCH_ON_DISABLED)
        elif not qs:  # quick stop
            if s is S.OPERATION_ENABLED:
                self._go(11, S.QUICK_STOP_ACTIVE)
            elif s in (S.READY_TO_SWITCH_ON, S.SWITCHED_ON):
                self._go(7 if s is S.READY_TO_SWITCH_ON else 10, S.SWITCH_ON_DISABLED)
        elif not so:  # shutdown
            number = {S.SWITCH_ON_DISABLED: 2, S.SWITCHED_ON: 6, S.OPERATION_ENABLED: 8}
            if s in number:
                self._go(number[s], S.READY_TO_SWITCH_ON)
        elif not eo:  # switch on / disable operation
            if s is S.READY_TO_SWITCH_ON:
                self._go(3, S.SWITCHED_ON)
            elif s is S.OPERATION_ENABLED:
                self._go(5, S.SWITCHED_ON)
        elif s is S.SWITCHED_ON:  # enable operation (QSA -> OE, transition 16, is not offered)
            self._go(4, S.OPERATION_ENABLED)


def run(master: Cia402Master, drive: FakeDrive, target: DriveState, max_steps: int, **kw) -> list[int]:
    """Cycle until the master reports done; return the controlwords sent."""
    sent = []
    for _ in range(max_steps):
        step = master.step(drive.statusword, target, **kw)
        assert step.state is drive.state
        sent.append(step.controlword)
        if step.done:
            assert drive.state is target
            return sent
        drive.apply(step.controlword)
    raise AssertionError(f"not {target.name} after {max_steps} steps: {drive.state.name}, sent {sent}")


# The transitions (CiA-402 numbering) the master should take to OPERATION_ENABLED from each state.
PATH_TO_ENABLED = {
    S.NOT_READY_TO_SWITCH_ON: [1, 2, 3, 4],
    S.SWITCH_ON_DISABLED: [2, 3, 4],
    S.READY_TO_SWITCH_ON: [3, 4],
    S.SWITCHED_ON: [4],
    S.OPERATION_ENABLED: [],
    S.QUICK_STOP_ACTIVE: [12, 2, 3, 4],
    S.FAULT_REACTION_ACTIVE: [14, 15, 2, 3, 4],
    S.FAULT: [15, 2, 3, 4],
}


@pytest.mark.parametrize("start", list(DriveState))
def test_master_enables_from_every_state_and_returns_to_safe_mode(start):
    drive, master = FakeDrive(start), Cia402Master()
    sent = run(master, drive, S.OPERATION_ENABLED, max_steps=8, fault_reset=True)
    assert drive.transitions == PATH_TO_ENABLED[start]
    assert len(sent) == len(PATH_TO_ENABLED[start]) + 1  # one command per transition, then the hold
    run(master, drive, S.SWITCH_ON_DISABLED, max_steps=3)
    assert drive.transitions[len(PATH_TO_ENABLED[start]) :] == [9]  # OE -> SOD by disable voltage


def test_master_climbs_from_sod_in_three_commands_and_holds():
    drive, master = FakeDrive(S.SWITCH_ON_DISABLED), Cia402Master()
    assert run(master, drive, S.OPERATION_ENABLED, max_steps=4) == [0x06, 0x07, 0x0F, 0x0F]
    step = master.step(drive.statusword, S.OPERATION_ENABLED)
    assert step.done and step.controlword == 0x0F and not step.fault


@pytest.mark.parametrize(
    ("target", "word", "transition"),
    [(S.SWITCHED_ON, 0x07, 5), (S.READY_TO_SWITCH_ON, 0x06, 8), (S.SWITCH_ON_DISABLED, 0x00, 9)],
)
def test_master_steps_down_from_operation_enabled_in_one_transition(target, word, transition):
    drive, master = FakeDrive(S.OPERATION_ENABLED), Cia402Master()
    assert run(master, drive, target, max_steps=2) == [word, word]
    assert drive.transitions == [transition]


def test_quick_stop_is_left_by_disable_voltage():
    drive, master = FakeDrive(S.OPERATION_ENABLED), Cia402Master()
    drive.apply(cia402.QUICK_STOP)
    assert drive.state is S.QUICK_STOP_ACTIVE
    run(master, drive, S.OPERATION_ENABLED, max_steps=5)
    assert drive.transitions == [11, 12, 2, 3, 4]


def test_fault_latches_until_a_reset_is_requested():
    drive, master = FakeDrive(S.FAULT), Cia402Master()
    for _ in range(5):
        step = master.step(drive.statusword, S.OPERATION_ENABLED, error_code=0x4210)
        assert step.fault and not step.done and step.state is S.FAULT
        assert step.controlword == cia402.DISABLE_VOLTAGE
        assert "0x4210 (device temperature)" in step.reason
        drive.apply(step.controlword)
    assert drive.state is S.FAULT and drive.transitions == []


def test_fault_reset_is_a_rising_edge_of_bit_7():
    drive, master = FakeDrive(S.FAULT), Cia402Master()
    sent = run(master, drive, S.SWITCH_ON_DISABLED, max_steps=3, fault_reset=True)
    assert sent == [0x80, 0x00]  # edge, then SOD holds with bit 7 low
    assert drive.transitions == [15]


def test_persistent_fault_gets_a_fresh_edge_per_attempt():
    drive, master = FakeDrive(S.FAULT, fault_clears=False), Cia402Master()
    sent = []
    for _ in range(6):
        step = master.step(drive.statusword, S.OPERATION_ENABLED, fault_reset=True)
        sent.append(step.controlword)
        drive.apply(step.controlword)
    assert sent == [0x80, 0x00, 0x80, 0x00, 0x80, 0x00]
    assert master.fault_reset_attempts == 3 and drive.state is S.FAULT


def test_fault_reset_can_hold_bit_7_for_slow_drives():
    master = Cia402Master(fault_reset_high_cycles=3)
    sent = [master.step(0x0208, S.SWITCH_ON_DISABLED, fault_reset=True).controlword for _ in range(6)]
    assert sent == [0x80, 0x80, 0x80, 0x00, 0x80, 0x80]
    assert master.fault_reset_attempts == 2


def test_fault_while_enabled_is_reported_and_recovered():
    drive, master = FakeDrive(S.SWITCH_ON_DISABLED), Cia402Master()
    run(master, drive, S.OPERATION_ENABLED, max_steps=4)
    drive.state = S.FAULT_REACTION_ACTIVE  # transition 13: the drive detected a fault
    step = master.step(drive.statusword, S.OPERATION_ENABLED, fault_reset=True)
    assert step.fault and step.controlword & cia402.CW_FAULT_RESET == 0
    drive.apply(step.controlword)
    assert drive.state is S.FAULT
    run(master, drive, S.OPERATION_ENABLED, max_steps=6, fault_reset=True)
    assert drive.transitions[-5:] == [14, 15, 2, 3, 4]


@pytest.mark.parametrize("target", [S.FAULT, S.QUICK_STOP_ACTIVE, S.NOT_READY_TO_SWITCH_ON])
def test_master_refuses_targets_off_the_normal_path(target):
    with pytest.raises(EthercatError, match="is not one of"):
        Cia402Master().step(0x0250, target)


def test_master_refuses_a_statusword_that_is_no_state():
    with pytest.raises(EthercatError, match="matches no CiA-402 state"):
        Cia402Master().step(0x0002, S.OPERATION_ENABLED)
    with pytest.raises(EthercatError):
        Cia402Master(fault_reset_high_cycles=0)


# ----------------------------------------------------------------------------------------------
# PDO codec.
RX_GOLDEN = RxPdo(
    controlword=0x000F,
    modes_of_operation=8,
    target_position=0x12345678,
    target_velocity=-2,
    target_torque=-1000,
    torque_offset=100,
    max_torque=1500,
)
RX_GOLDEN_BYTES = bytes.fromhex("0f00 08 78563412 feffffff 18fc 6400 dc05")
TX_GOLDEN = TxPdo(
    statusword=0x0237,
    modes_of_operation_display=-3,
    position_actual=-0x12345678,
    velocity_actual=1000,
    torque_actual=-1,
    error_code=0x7500,
    temperature=425,
)
TX_GOLDEN_BYTES = bytes.fromhex("3702 fd 88a9cbed e8030000 ffff 0075 a901")


def test_pdo_sizes():
    assert RX_PDO_BYTES == 17 and TX_PDO_BYTES == 17
    assert sum(w & 0xFF for w in pdo.rx_mapping()) == 8 * RX_PDO_BYTES
    assert sum(w & 0xFF for w in pdo.tx_mapping(0x2002)) == 8 * TX_PDO_BYTES


def test_pdo_golden_bytes():
    assert encode_rx(RX_GOLDEN) == RX_GOLDEN_BYTES
    assert decode_rx(RX_GOLDEN_BYTES) == RX_GOLDEN
    assert encode_tx(TX_GOLDEN) == TX_GOLDEN_BYTES
    assert decode_tx(TX_GOLDEN_BYTES) == TX_GOLDEN


def test_pdo_mapping_words():
    assert pdo.rx_mapping() == (0x60400010, 0x60600008, 0x607A0020, 0x60FF0020, 0x60710010, 0x60B20010, 0x60720010)
    assert pdo.tx_mapping(0x2002, 1) == (
        0x60410010,
        0x60610008,
        0x60640020,
        0x606C0020,
        0x60770010,
        0x603F0010,
        0x20020110,
    )
    with pytest.raises(EthercatError, match="manufacturer area"):
        pdo.tx_mapping(0x6000)


def ints(code: str) -> st.SearchStrategy[int]:
    lo, hi = pdo._RANGES[code]
    return st.integers(lo, hi)


RX_STRATEGY = st.builds(RxPdo, *(ints(code) for _, code, _, _ in pdo.RX_FIELDS))
TX_STRATEGY = st.builds(TxPdo, *(ints(code) for _, code, _, _ in pdo.TX_FIELDS))


@given(RX_STRATEGY)
def test_rx_round_trip(p):
    data = encode_rx(p)
    assert len(data) == RX_PDO_BYTES and decode_rx(data) == p


@given(TX_STRATEGY)
def test_tx_round_trip(p):
    data = encode_tx(p)
    assert len(data) == TX_PDO_BYTES and decode_tx(data) == p


@pytest.mark.parametrize(
    ("field", "value"), [("controlword", 0x10000), ("modes_of_operation", 128), ("max_torque", -1)]
)
def test_out_of_range_field_is_named(field, value):
    bad = RxPdo(**{**RX_GOLDEN.__dict__, field: value})
    with pytest.raises(EthercatError, match=field):
        encode_rx(bad)


def test_wrong_frame_length_is_refused():
    with pytest.raises(EthercatError, match="16 bytes, expected 17"):
        decode_tx(TX_GOLDEN_BYTES[:-1])
    with pytest.raises(EthercatError, match="18 bytes"):
        decode_rx(RX_GOLDEN_BYTES + b"\x00")


# ----------------------------------------------------------------------------------------------
# Joint units <-> drive units.
KNEE = DriveScaling(counts_per_rev=1 << 17, gear_ratio=9.0, rated_torque_nm=2.5, direction=-1)
I32_MAX, I32_MIN = (1 << 31) - 1, -(1 << 31)


def test_hand_worked_conversions():
    s = DriveScaling(counts_per_rev=4096, gear_ratio=1.0, rated_torque_nm=2.0)
    assert s.position_to_counts(math.pi / 2) == (1024, False)
    assert s.velocity_to_counts(-2 * math.pi) == (-4096, False)
    geared = DriveScaling(counts_per_rev=4096, gear_ratio=10.0, rated_torque_nm=2.0, direction=-1)
    assert geared.torque_to_permille(1.0) == (-50, False)  # 1 N m at the joint = 0.1 N m motor = 50 per mille
    assert geared.position_to_counts(2 * math.pi) == (-40960, False)
    assert geared.torque_limit_to_permille(20.0) == (1000, False)  # a limit is a magnitude: no sign flip


@given(st.floats(-0.99 * I32_MAX / KNEE.counts_per_rad, 0.99 * I32_MAX / KNEE.counts_per_rad))
def test_position_round_trip_within_one_count(q):
    counts, sat = KNEE.position_to_counts(q)
    assert not sat
    assert abs(KNEE.counts_to_position(counts) - q) <= 1.0 / KNEE.counts_per_rad


@given(st.floats(-1e4, 1e4))
def test_velocity_round_trip_within_one_count(qd):
    counts, sat = KNEE.velocity_to_counts(qd)
    assert not sat
    assert abs(KNEE.counts_to_velocity(counts) - qd) <= 1.0 / KNEE.counts_per_rad


@given(st.floats(-700.0, 700.0))  # +-700 N m = +-31111 per mille with this knee, inside i16
def test_torque_round_trip_within_one_per_mille(tau):
    permille, sat = KNEE.torque_to_permille(tau)
    assert not sat
    assert abs(KNEE.permille_to_torque(permille) - tau) <= 1.0 / KNEE.permille_per_nm


@given(ints("i"), ints("h"))
def test_drive_units_round_trip_exactly(counts, permille):
    assert KNEE.position_to_counts(KNEE.counts_to_position(counts)) == (counts, False)
    assert KNEE.velocity_to_counts(KNEE.counts_to_velocity(counts)) == (counts, False)
    assert KNEE.torque_to_permille(KNEE.permille_to_torque(permille)) == (permille, False)


def test_saturation_is_flagged_at_the_limits():
    # KNEE.direction = -1: a large positive joint value is a large negative drive value
    assert KNEE.position_to_counts(1e9) == (I32_MIN, True)
    assert KNEE.position_to_counts(-1e9) == (I32_MAX, True)
    assert KNEE.velocity_to_counts(1e300) == (I32_MIN, True)
    assert KNEE.torque_to_permille(-1e6) == (32767, True)
    assert KNEE.torque_to_permille(1e6) == (-32768, True)
    assert KNEE.torque_limit_to_permille(1e6) == (65535, True)
    # exactly at the limit is not a clamp
    assert KNEE.position_to_counts(KNEE.counts_to_position(I32_MAX)) == (I32_MAX, False)
    assert KNEE.torque_to_permille(KNEE.permille_to_torque(-32768)) == (-32768, False)


def test_joint_command_reports_the_saturated_fields():
    rx, saturated = joint_command(KNEE, 0x0F, ModeOfOperation.CSP, 0.5, -1.0, 10.0, 0.0, 50.0)
    assert saturated == ()
    assert rx.target_position == KNEE.position_to_counts(0.5)[0] and rx.modes_of_operation == 8
    assert decode_rx(encode_rx(rx)) == rx
    _, saturated = joint_command(KNEE, 0x0F, ModeOfOperation.CST, 0.5, -1.0, 1e5, 1e5, 1e9)
    assert saturated == ("target_torque", "torque_offset", "max_torque")
    with pytest.raises(EthercatError, match="controlword"):
        joint_command(KNEE, 0x10000, ModeOfOperation.CSP, 0.0, 0.0, 0.0, 0.0, 1.0)


def test_joint_feedback_from_golden_tx():
    s = DriveScaling(counts_per_rev=4096, gear_ratio=1.0, rated_torque_nm=2.0)
    fb = joint_feedback(s, TxPdo(0x0237, 8, 1024, -4096, -500, 0, 425))
    assert fb.position_rad == pytest.approx(math.pi / 2)
    assert fb.velocity_rad_s == pytest.approx(-2 * math.pi)
    assert fb.torque_nm == pytest.approx(-1.0)
    assert fb.temperature_c == pytest.approx(42.5) and fb.mode == 8 and fb.statusword == 0x0237


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(bad):
    for convert in (
        KNEE.position_to_counts,
        KNEE.velocity_to_counts,
        KNEE.torque_to_permille,
        KNEE.torque_limit_to_permille,
    ):
        with pytest.raises(EthercatError, match="not a finite number") as info:
            convert(bad)
        assert isinstance(info.value, HardwareError)
    with pytest.raises(EthercatError):
        joint_command(KNEE, 0x0F, 8, 0.0, bad, 0.0, 0.0, 1.0)


def test_negative_torque_limit_and_bad_scaling_are_rejected():
    with pytest.raises(EthercatError, match="negative"):
        KNEE.torque_limit_to_permille(-1.0)
    for kw in (
        {"counts_per_rev": 0},
        {"counts_per_rev": 4096.0},
        {"gear_ratio": math.nan},
        {"rated_torque_nm": 0.0},
        {"direction": 0},
    ):
        args = {"counts_per_rev": 4096, "gear_ratio": 1.0, "rated_torque_nm": 1.0, "direction": 1, **kw}
        with pytest.raises(EthercatError):
            DriveScaling(**args)


# ----------------------------------------------------------------------------------------------
# Transport: never imports pysoem at module import; its logic runs against a fake pysoem.
def test_transport_import_does_not_import_pysoem():
    code = "import sys, forma_hardware.ethercat.transport; assert 'pysoem' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


class _FakeSlave:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sdo: list[tuple[int, int, bytes]] = []
        self.output = b""
        self.input = b""
        self.setup_func = None

    def sdo_write(self, index: int, sub: int, data: bytes) -> None:
        self.sdo.append((index, sub, data))


class _FakeMaster:
    def __init__(self, n: int) -> None:
        self.n, self.slaves, self.state, self.wkc = n, None, 0, 3
        self.expected_wkc = 3
        self.closed = False

    def open(self, ifname: str) -> None:
        pass

    def config_init(self) -> int:
        self.slaves = [_FakeSlave(f"drive{i}") for i in range(self.n)]
        return self.n

    def config_map(self) -> int:
        for s in self.slaves:
            s.setup_func(s)
            s.output, s.input = bytes(RX_PDO_BYTES), TX_GOLDEN_BYTES
        return self.n * (RX_PDO_BYTES + TX_PDO_BYTES)

    def state_check(self, state: int, timeout_us: int) -> int:
        return state

    def send_processdata(self) -> None:
        pass

    def receive_processdata(self, timeout_us: int) -> int:
        return self.wkc

    def write_state(self) -> int:
        return 1

    def close(self) -> None:
        self.closed = True


def test_transport_against_a_fake_pysoem(monkeypatch):
    from forma_hardware.ethercat.transport import PysoemTransport

    fake_master = _FakeMaster(2)
    fake = types.SimpleNamespace(
        Master=lambda: fake_master,
        SAFEOP_STATE=4,
        OP_STATE=8,
        INIT_STATE=1,
        ConfigMapError=type("ConfigMapError", (Exception,), {}),
        SdoError=type("SdoError", (Exception,), {}),
        MailboxError=type("MailboxError", (Exception,), {}),
        PacketError=type("PacketError", (Exception,), {}),
    )
    monkeypatch.setitem(sys.modules, "pysoem", fake)
    bus = PysoemTransport("eth0", n_drives=2, temperature_index=0x2002, temperature_subindex=1)
    bus.open()
    sdo = fake_master.slaves[0].sdo
    assert sdo[0] == (0x1C12, 0, b"\x00")  # assignment off before the mapping is rewritten
    assert (0x1600, 1, (0x60400010).to_bytes(4, "little")) in sdo
    assert (0x1A00, 7, (0x20020110).to_bytes(4, "little")) in sdo
    assert sdo[-1] == (0x1C13, 0, b"\x01")
    assert bus.exchange([RX_GOLDEN, RX_GOLDEN]) == [TX_GOLDEN, TX_GOLDEN]
    assert fake_master.slaves[1].output == RX_GOLDEN_BYTES
    fake_master.wkc = 2
    with pytest.raises(EthercatError, match="working counter 2 < expected 3"):
        bus.exchange([RX_GOLDEN, RX_GOLDEN])
    with pytest.raises(EthercatError, match="1 commands for 2 drives"):
        bus.exchange([RX_GOLDEN])
    bus.close()
    assert fake_master.closed and fake_master.state == 1
    with pytest.raises(EthercatError, match="not open"):
        bus.exchange([RX_GOLDEN, RX_GOLDEN])
