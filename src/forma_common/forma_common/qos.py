"""QoS profiles of the whole stack, named for what they carry (DESIGN §5). A reader and a writer
of the same topic use the same profile unless the name says otherwise.

Writers are reliable: a recorder or a late joiner gets every sample. Readers that only want the
newest sample of a stream are best effort (NEWEST, POLLED): measured here, a reliable keep-last
reader that is read at its own rate stalled for up to 2 s at a time (Fast DDS refused a sample
while the reader's history was full and waited for the writer's next heartbeat to repair it);
a best-effort reader just drops the old sample.
"""

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

# The hardware's 500 Hz streams as written (joint_states, imu/data, feet wrenches, touch): 0.5 s
# of samples kept for re-delivery. A subscriber's participant stalls while it matches a newly
# discovered node (measured: 337 ms without a joint_states sample in `forma record`); samples the
# writer has already overwritten are lost for good. Small messages: ~1 MB per topic.
STATE_STREAM = QoSProfile(depth=250, reliability=ReliabilityPolicy.RELIABLE)
# A reader that wants the newest sample of a stream only (a control loop, or a node polling at its
# own rate): a stalled reader never works through a backlog, a controller never ticks on an old
# sample.
NEWEST = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
# A reader that takes every sample of a low-rate status topic at its own rate (hardware/state at
# 50 Hz and on changes, taken by the supervisor and the hands at 100 Hz).
POLLED = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
# The newest status of a node, published on change and periodically (wbc/status, hardware/state).
STATUS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Joint commands into the hardware: several commanders (WBC, hands, supervisor) share the topic
# and an unkeyed DDS reader keeps `depth` samples across all writers, so depth 1 would drop one
# commander's message when another's arrives in the same period.
COMMANDS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# ... as the hardware reads them, every control period: best effort, so a command lost in transit
# is replaced by the next one 2 ms later instead of stalling the stream until a repair (the
# watchdog would HOLD the robot after 0.1 s); deep enough for every commander between two takes.
COMMAND_INTAKE = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
# Low-rate sensor and status topics (hardware/state, perception, diagnostics): a few samples.
SENSORS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
# Operator and task inputs (targets, e-stop topic, utterances): none may be lost.
EVENTS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# A stream of task targets as written (teleop markers, the console's gizmos): the newest counts.
TARGETS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Images: only the newest matters, and each kept sample pins a shared-memory buffer of the writer.
IMAGES = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Descriptions and states a late joiner must get at once (robot_description, safety/state).
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
