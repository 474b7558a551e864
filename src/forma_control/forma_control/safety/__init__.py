"""The safety supervisor (DESIGN §4): operating modes and their transitions, the stand-up ramp,
e-stop and fault handling (supervisor.py), fall detection from what the robot senses
(fall_detection.py), both pure; node.py wires them to ROS; lockstep.py runs them in-process."""
