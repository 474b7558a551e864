"""Forma bringup: deployments (what runs where), the process host that runs several nodes on one
executor, the `forma` runner and CLI, and the pure mapping from a deployment to launch_ros
actions used by launch/*.launch.py on a ROS 2 install.
"""
