"""The task layer's exceptions: a refused instruction or configuration (TaskError), a skill that
could not finish (TaskFailed: its message is the reason the user reads), a cancel."""


class TaskError(ValueError):
    """Bad input: an instruction the robot cannot serve, a broken configuration."""


class TaskFailed(Exception):
    """A skill stopped short; str(exc) says what happened and why."""


class TaskCanceled(Exception):
    """The goal was canceled (or timed out): the skill stops where it is."""
