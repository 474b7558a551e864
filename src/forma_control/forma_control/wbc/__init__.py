"""Whole-body control: an optimisation-based controller over the floating base and the 38 body
joints (DESIGN §4). Pure modules, no ROS: model (pinocchio), estimator (floating base from IMU
and leg kinematics), balance (capture point over the support polygon), qp (the task QP),
controller (one 500 Hz tick), targets (validated task targets), reach (the Reach action's logic).
"""
