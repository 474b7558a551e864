"""QoS profiles of the control nodes (DESIGN §5): commands reliable keep-last-1, descriptions and
states transient-local, the 500 Hz streams keep the newest sample only (a stalled executor never
works through a backlog, and a tick on an old joint_states would send a stale command)."""

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
LATEST_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
SENSOR_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
