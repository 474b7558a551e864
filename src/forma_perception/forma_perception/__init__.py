"""Perception for Forma: objects with 3D poses and people from the head RGB-D camera."""
