"""The CiA-402 (IEC 61800-7-201) drive state machine as a master sees it.

Statusword 0x6041, low byte (x = don't care; bit 5 "quick stop" is active LOW):

    state                    bits 6 5 4 3 2 1 0   mask   value
    NOT_READY_TO_SWITCH_ON        0 x x 0 0 0 0   0x4F   0x00
    SWITCH_ON_DISABLED            1 x x 0 0 0 0   0x4F   0x40
    READY_TO_SWITCH_ON            0 1 x 0 0 0 1   0x6F   0x21
    SWITCHED_ON                   0 1 x 0 0 1 1   0x6F   0x23
    OPERATION_ENABLED             0 1 x 0 1 1 1   0x6F   0x27
    QUICK_STOP_ACTIVE             0 0 x 0 1 1 1   0x6F   0x07
    FAULT_REACTION_ACTIVE         0 x x 1 1 1 1   0x4F   0x0F
    FAULT                         0 x x 1 0 0 0   0x4F   0x08

Bit 4 is "voltage enabled", bit 7 "warning", bit 9 "remote", bit 10 "target reached", bit 11
"internal limit active"; bits 8 and 12-15 are mode or manufacturer specific. A word matching no
row (e.g. 0x0002) is not a state: decoding it raises EthercatError rather than guessing.

Controlword 0x6040 commands (bit 7 fault reset, 3 enable operation, 2 quick stop (active low),
1 enable voltage, 0 switch on) and the transitions of the CiA-402 state diagram they cause:

    shutdown            0x06   SOD -> RTSO (2), SO -> RTSO (6), OE -> RTSO (8)
    switch on           0x07   RTSO -> SO (3)
    enable operation    0x0F   SO -> OE (4), QSA -> OE (16, only for quick-stop option codes 5..8)
    disable operation   0x07   OE -> SO (5)
    disable voltage     0x00   RTSO/SO/OE/QSA -> SOD (7, 10, 9, 12)
    quick stop          0x02   OE -> QSA (11), RTSO/SO -> SOD (7, 10)
    fault reset         0x80   FAULT -> SOD (15), on the RISING edge of bit 7 only

NOT_READY_TO_SWITCH_ON -> SOD (1) and FAULT_REACTION_ACTIVE -> FAULT (14) are automatic; any
state can fall into FAULT_REACTION_ACTIVE (13) when the drive detects a fault.
"""

from __future__ import annotations

import dataclasses
import enum
import operator

from forma_hardware.ethercat.errors import EthercatError

STATUSWORD_INDEX = 0x6041
CONTROLWORD_INDEX = 0x6040
MODES_OF_OPERATION_INDEX = 0x6060
MODES_OF_OPERATION_DISPLAY_INDEX = 0x6061
ERROR_CODE_INDEX = 0x603F

# Statusword bits.
SW_READY_TO_SWITCH_ON = 1 << 0
SW_SWITCHED_ON = 1 << 1
SW_OPERATION_ENABLED = 1 << 2
SW_FAULT = 1 << 3
SW_VOLTAGE_ENABLED = 1 << 4
SW_QUICK_STOP = 1 << 5  # active low: 0 means a quick stop is in progress
SW_SWITCH_ON_DISABLED = 1 << 6
SW_WARNING = 1 << 7
SW_REMOTE = 1 << 9
SW_TARGET_REACHED = 1 << 10
SW_INTERNAL_LIMIT_ACTIVE = 1 << 11

# Controlword bits and commands.
CW_SWITCH_ON = 1 << 0
CW_ENABLE_VOLTAGE = 1 << 1
CW_QUICK_STOP = 1 << 2  # active low: clearing it (with voltage enabled) commands a quick stop
CW_ENABLE_OPERATION = 1 << 3
CW_FAULT_RESET = 1 << 7
CW_HALT = 1 << 8

SHUTDOWN = CW_QUICK_STOP | CW_ENABLE_VOLTAGE  # 0x06
SWITCH_ON = CW_QUICK_STOP | CW_ENABLE_VOLTAGE | CW_SWITCH_ON  # 0x07
ENABLE_OPERATION = CW_ENABLE_OPERATION | SWITCH_ON  # 0x0F
DISABLE_OPERATION = SWITCH_ON  # 0x07: same bits as switch on; the state decides the meaning
DISABLE_VOLTAGE = 0x00
QUICK_STOP = CW_ENABLE_VOLTAGE  # 0x02
FAULT_RESET = CW_FAULT_RESET  # 0x80; acts only on a 0 -> 1 edge of bit 7


class DriveState(enum.Enum):
    NOT_READY_TO_SWITCH_ON = "not ready to switch on"
    SWITCH_ON_DISABLED = "switch on disabled"
    READY_TO_SWITCH_ON = "ready to switch on"
    SWITCHED_ON = "switched on"
    OPERATION_ENABLED = "operation enabled"
    QUICK_STOP_ACTIVE = "quick stop active"
    FAULT_REACTION_ACTIVE = "fault reaction active"
    FAULT = "fault"


class ModeOfOperation(enum.IntEnum):
    """0x6060 / 0x6061 values the humanoid uses: the cyclic synchronous modes (others exist)."""

    CSP = 8  # cyclic synchronous position
    CSV = 9  # cyclic synchronous velocity
    CST = 10  # cyclic synchronous torque


# (mask, value, state), checked in order; the rows are mutually exclusive.
_STATE_PATTERNS = (
    (0x4F, 0x00, DriveState.NOT_READY_TO_SWITCH_ON),
    (0x4F, 0x40, DriveState.SWITCH_ON_DISABLED),
    (0x6F, 0x21, DriveState.READY_TO_SWITCH_ON),
    (0x6F, 0x23, DriveState.SWITCHED_ON),
    (0x6F, 0x27, DriveState.OPERATION_ENABLED),
    (0x6F, 0x07, DriveState.QUICK_STOP_ACTIVE),
    (0x4F, 0x0F, DriveState.FAULT_REACTION_ACTIVE),
    (0x4F, 0x08, DriveState.FAULT),
)

# The states a master may ask for: the four on the drive's normal path. QUICK_STOP_ACTIVE is
# commanded explicitly (QUICK_STOP), and the rest are entered by the drive, not by request.
TARGET_STATES = (
    DriveState.SWITCH_ON_DISABLED,
    DriveState.READY_TO_SWITCH_ON,
    DriveState.SWITCHED_ON,
    DriveState.OPERATION_ENABLED,
)
_LADDER = {s: i for i, s in enumerate(TARGET_STATES)}
_HOLD_WORD = {
    DriveState.SWITCH_ON_DISABLED: DISABLE_VOLTAGE,
    DriveState.READY_TO_SWITCH_ON: SHUTDOWN,
    DriveState.SWITCHED_ON: SWITCH_ON,
    DriveState.OPERATION_ENABLED: ENABLE_OPERATION,
}


def _u16(word: int, what: str) -> int:
    """word as a Python int (numpy integers accepted), or EthercatError if it is not a u16."""
    try:
        value = operator.index(word)
    except TypeError:
        raise EthercatError(f"{what} {word!r} is not an integer") from None
    if not 0 <= value <= 0xFFFF:
        raise EthercatError(f"{what} {word!r} is not a 16-bit unsigned integer")
    return value


def decode_state(statusword: int) -> DriveState:
    """The drive state of a statusword; a word matching no CiA-402 pattern raises EthercatError."""
    statusword = _u16(statusword, "statusword")
    for mask, value, state in _STATE_PATTERNS:
        if statusword & mask == value:
            return state
    raise EthercatError(f"statusword 0x{statusword:04X} matches no CiA-402 state")


@dataclasses.dataclass(frozen=True)
class Status:
    """A decoded statusword."""

    word: int
    state: DriveState
    voltage_enabled: bool
    warning: bool  # a condition the drive reports without leaving its state (e.g. temperature)
    remote: bool  # the drive accepts the controlword from the bus
    target_reached: bool
    internal_limit_active: bool  # e.g. a torque, speed or position limit is clamping the setpoint

    @property
    def fault(self) -> bool:
        return self.state in (DriveState.FAULT, DriveState.FAULT_REACTION_ACTIVE)


def decode_statusword(statusword: int) -> Status:
    statusword = _u16(statusword, "statusword")
    state = decode_state(statusword)
    return Status(
        word=statusword,
        state=state,
        voltage_enabled=bool(statusword & SW_VOLTAGE_ENABLED),
        warning=bool(statusword & SW_WARNING),
        remote=bool(statusword & SW_REMOTE),
        target_reached=bool(statusword & SW_TARGET_REACHED),
        internal_limit_active=bool(statusword & SW_INTERNAL_LIMIT_ACTIVE),
    )


# Error code 0x603F: the classes of the CiA-301 emergency error codes (the high byte, else nibble).
_ERROR_CLASSES_BY_BYTE = {
    0x00: "no error",
    0x21: "current, device input side",
    0x22: "current inside the device",
    0x23: "current, device output side",
    0x31: "mains voltage",
    0x32: "voltage inside the device",
    0x33: "output voltage",
    0x41: "ambient temperature",
    0x42: "device temperature",
    0x61: "internal software",
    0x62: "user software",
    0x63: "data set",
    0x81: "communication",
    0x82: "protocol error",
    0xFF: "device specific",
}
_ERROR_CLASSES_BY_NIBBLE = {
    0x1: "generic error",
    0x2: "current",
    0x3: "voltage",
    0x4: "temperature",
    0x5: "device hardware",
    0x6: "device software",
    0x7: "additional modules",
    0x8: "monitoring",
    0x9: "external error",
    0xF: "additional functions",
}


def describe_error_code(code: int) -> str:
    """A short name of the class of an error code (0x603F), for logs; the drive manual has the rest."""
    code = _u16(code, "error code")
    name = _ERROR_CLASSES_BY_BYTE.get(code >> 8) or _ERROR_CLASSES_BY_NIBBLE.get(code >> 12, "unknown class")
    return f"0x{code:04X} ({name})"


@dataclasses.dataclass(frozen=True)
class MasterStep:
    """What the master sends this cycle, and why."""

    controlword: int
    state: DriveState  # the state the statusword reported
    done: bool  # the drive is in the target state (the controlword holds it there)
    fault: bool  # the drive is in FAULT or FAULT_REACTION_ACTIVE
    reason: str


class Cia402Master:
    """Steps one drive through the legal CiA-402 transitions towards a target state.

    Call step() once per cycle with the statusword just received; send the returned controlword.
    The master keeps only the last controlword it sent, for the fault-reset edge. It moves one
    transition per step and always via the diagram: up SOD -> RTSO -> SO -> OE, down straight to
    the target (disable voltage for SOD). A quick stop is left by disable voltage (transition 12),
    never by transition 16, which only some quick-stop option codes (0x605A) allow.

    Faults latch, as the stop latch does: in FAULT the master sends a fault reset only when the
    caller asks (fault_reset=True); it then raises bit 7 for fault_reset_high_cycles cycles and
    drops it for one, so every attempt is a fresh rising edge even if the drive stays in FAULT.
    """

    def __init__(self, fault_reset_high_cycles: int = 1) -> None:
        if fault_reset_high_cycles < 1:
            raise EthercatError(f"fault_reset_high_cycles must be >= 1, got {fault_reset_high_cycles}")
        self.fault_reset_high_cycles = fault_reset_high_cycles
        self.last_controlword = DISABLE_VOLTAGE
        self.fault_reset_attempts = 0  # rising edges sent since the last time the drive was out of FAULT
        self._high_cycles = 0

    def step(
        self, statusword: int, target: DriveState, *, fault_reset: bool = False, error_code: int | None = None
    ) -> MasterStep:
        """The controlword for this cycle. error_code (0x603F), when given, is named in a fault's reason."""
        if target not in _LADDER:
            raise EthercatError(f"target {target.name} is not one of {[s.name for s in TARGET_STATES]}")
        state = decode_state(statusword)
        fault = state in (DriveState.FAULT, DriveState.FAULT_REACTION_ACTIVE)
        if state is not DriveState.FAULT:
            self.fault_reset_attempts = 0
        done = False
        if state is DriveState.FAULT:
            word, reason = self._fault_step(fault_reset)
        elif state is DriveState.FAULT_REACTION_ACTIVE:
            word, reason = DISABLE_VOLTAGE, "fault reaction in progress: waiting for FAULT"
        elif state is DriveState.NOT_READY_TO_SWITCH_ON:
            word, reason = DISABLE_VOLTAGE, "drive initialising: waiting for SWITCH_ON_DISABLED"
        elif state is DriveState.QUICK_STOP_ACTIVE:
            word, reason = DISABLE_VOLTAGE, "quick stop active: disable voltage (transition 12)"
        else:
            here, there = _LADDER[state], _LADDER[target]
            if here == there:
                word, reason, done = _HOLD_WORD[state], f"holding {state.name}", True
            elif here < there:
                word = _HOLD_WORD[TARGET_STATES[here + 1]]
                reason = f"{state.name} -> {TARGET_STATES[here + 1].name}"
            else:
                word, reason = _HOLD_WORD[target], f"{state.name} -> {target.name}"
        if fault and error_code is not None:
            reason = f"{reason}; error {describe_error_code(error_code)}"
        self.last_controlword = word
        return MasterStep(controlword=word, state=state, done=done, fault=fault, reason=reason)

    def _fault_step(self, fault_reset: bool) -> tuple[int, str]:
        if not fault_reset:
            self._high_cycles = 0
            return DISABLE_VOLTAGE, "fault latched: waiting for a fault reset request"
        if self.last_controlword & CW_FAULT_RESET:
            if self._high_cycles < self.fault_reset_high_cycles:
                self._high_cycles += 1
                return FAULT_RESET, "fault reset: holding bit 7 high"
            self._high_cycles = 0
            return DISABLE_VOLTAGE, "fault reset: bit 7 low to arm the next rising edge"
        self._high_cycles = 1
        self.fault_reset_attempts += 1
        return FAULT_RESET, f"fault reset: rising edge of bit 7 (attempt {self.fault_reset_attempts})"
