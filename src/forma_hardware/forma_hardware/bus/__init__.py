"""The motor-bus driver: topology (config/actuators.yaml), bus load, joint <-> actuator mapping,
per-bus cycles over python-can, and the driver core behind the hardware contract."""
