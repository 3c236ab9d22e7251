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


class WorkspaceNotEmpty(KeelError):
    """The workspace holds files Keel did not create, so Keel refuses to wipe it."""

    status_code = 409


class PromotionRefused(KeelError):
    """An alias move was refused (for example the version failed its gate and no --force)."""

    status_code = 409


class AliasUnchanged(PromotionRefused):
    """The alias already points at the requested version: nothing was moved or recorded (the
    CLI reports it and exits 0)."""


class AliasConflict(KeelError):
    """The alias moved while this move was being made; the caller should look and retry."""

    status_code = 409


class BackendUnavailable(KeelError):
    """A database or server Keel needs cannot be reached or cannot do what was asked."""

    status_code = 503


class Unauthorized(KeelError):
    """No valid bearer token was presented."""

    status_code = 401


class Forbidden(KeelError):
    """The bearer token is valid but lacks the scope the endpoint needs."""

    status_code = 403


class NotFound(KeelError):
    """A referenced record (for example a prediction id) does not exist."""

    status_code = 404


class Conflict(KeelError):
    """The request contradicts what is already recorded."""

    status_code = 409


class PayloadTooLarge(KeelError):
    """The request body or batch exceeds the configured limit."""

    status_code = 413


class LogUnavailable(KeelError):
    """The prediction log could not make a record durable, so no answer is given."""

    status_code = 503


class InsecureConfiguration(KeelError):
    """A setting is unsafe for the profile (for example no API tokens in production)."""

    status_code = 500


class OnlineStoreUnavailable(KeelError):
    """The online store (Redis) did not answer in time; the request can be retried."""

    status_code = 503


class RegistryUnavailable(BackendUnavailable):
    """The MLflow registry (tracking server or its database) cannot be reached."""


# --- The project file (keel.yaml) and its checks against the Feast registry ---


class InvalidProject(InvalidInput):
    """keel.yaml is malformed, or names a Feast repo or feature service Keel cannot use."""


class UnknownFeatureService(InvalidProject):
    """A model names a feature service the Feast registry does not hold."""

    status_code = 404


class InvalidLabels(InvalidInput):
    """A model's label table does not fit its feature service (keys, request fields, label)."""
