"""Walking: footsteps, the centre-of-mass plan over them and the swing paths (pure; wbc/controller.py follows them)."""
