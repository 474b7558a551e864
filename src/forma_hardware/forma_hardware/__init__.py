"""Forma hardware layer: the command contract every hardware node enforces (MuJoCo sim or motor
bus driver) — command validation, per-group watchdogs, latched hold / damp, e-stop, actuator
modes and PD gains — as plain Python with no ROS imports.
"""

from forma_hardware.command_gate import CommandGate, GateLimits, JointCommand
from forma_hardware.contract import ActuatorSetpoints, HardwareContract
from forma_hardware.errors import CommandRejected, HardwareConfigError, HardwareError
from forma_hardware.gains import GainSchedule, load_gain_schedule
from forma_hardware.stop_latch import ActuatorMode, StopCause, StopState

__all__ = [
    "ActuatorMode",
    "ActuatorSetpoints",
    "CommandGate",
    "CommandRejected",
    "GainSchedule",
    "GateLimits",
    "HardwareConfigError",
    "HardwareContract",
    "HardwareError",
    "JointCommand",
    "StopCause",
    "StopState",
    "load_gain_schedule",
]
