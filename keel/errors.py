"""Keel's errors: each carries the HTTP status an API maps it to and a message naming the fix."""

from __future__ import annotations


class KeelError(Exception):
    """Base class for errors a user can cause or fix."""

    status_code: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(KeelError):
    """A file, column or argument is not what Keel expects."""

    status_code = 422


class UnknownEntity(KeelError):
    """No online features exist for the requested entity."""

    status_code = 404


class ModelNotFound(KeelError):
    """The registered model, version or alias does not exist."""

    status_code = 404


class ModelNotReady(KeelError):
    """The server has no model loaded (yet)."""

    status_code = 503


class WorkspaceNotReady(KeelError):
    """A step ran before the step it depends on (for example training before data exists)."""

    status_code = 409
