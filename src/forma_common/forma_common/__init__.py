"""forma_common: the ROS shell every Forma node shares (DESIGN §2): QoS profiles named for what
they carry, stamp and message helpers, and direct subscriptions that a node's own thread reads
without the executor."""
