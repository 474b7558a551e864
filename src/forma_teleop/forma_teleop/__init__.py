"""Teleop of Forma's whole-body controller targets from RViz interactive markers."""
