"""EtherCAT transport of the motor-bus driver: the CiA-402 drive state machine seen from the
master (cia402), the cyclic-synchronous PDO codec and joint-unit scaling (pdo), and a thin pysoem
wrapper (transport, needs a NIC and root; imported on demand, not here).
"""

from forma_hardware.ethercat.cia402 import (
    Cia402Master,
    DriveState,
    MasterStep,
    ModeOfOperation,
    Status,
    decode_state,
    decode_statusword,
    describe_error_code,
)
from forma_hardware.ethercat.errors import EthercatError
from forma_hardware.ethercat.pdo import (
    RX_PDO_BYTES,
    TX_PDO_BYTES,
    DriveScaling,
    JointFeedback,
    RxPdo,
    TxPdo,
    decode_rx,
    decode_tx,
    encode_rx,
    encode_tx,
    joint_command,
    joint_feedback,
)

__all__ = [
    "RX_PDO_BYTES",
    "TX_PDO_BYTES",
    "Cia402Master",
    "DriveScaling",
    "DriveState",
    "EthercatError",
    "JointFeedback",
    "MasterStep",
    "ModeOfOperation",
    "RxPdo",
    "Status",
    "TxPdo",
    "decode_rx",
    "decode_state",
    "decode_statusword",
    "decode_tx",
    "describe_error_code",
    "encode_rx",
    "encode_tx",
    "joint_command",
    "joint_feedback",
]
