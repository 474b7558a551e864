"""Errors of forma_bringup."""


class BringupError(Exception):
    """Base of forma_bringup errors."""


class DeploymentError(BringupError, ValueError):
    """A deployment file is invalid. The message names the file, the field and the reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source, self.field, self.reason = source, field, reason
        super().__init__(f"{source}: {field}: {reason}")
