"""Errors of the simulation package."""


class SimError(Exception):
    """Base of forma_sim errors; messages name the bad value and the valid ones."""
