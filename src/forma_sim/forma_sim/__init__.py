"""Forma MuJoCo simulation: the "hardware" of the stack in simulation (DESIGN §4).

simulation.py holds the physics core (no ROS), camera.py the offscreen RGB-D renderer,
scene.py builds the MuJoCo model from the xacro description and a world file, and
sim_node.py wires it all to ROS topics and services.
"""
