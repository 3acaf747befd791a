"""Errors with a stable code and HTTP status; one middleware renders them as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class AppError(Exception):
    """Base of every refusal a client may see. ``code`` is stable snake_case."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(AppError):
    code = "validation_failed"
    status = 400


class BadRequest(AppError):
    code = "bad_request"
    status = 400


class InvalidImage(AppError):
    code = "invalid_image"
    status = 400


class NotAuthenticated(AppError):
    code = "not_authenticated"
    status = 401


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class CsrfFailed(AppError):
    code = "csrf_failed"
    status = 403


class NotFound(AppError):
    code = "not_found"
    status = 404


class Gone(AppError):
    code = "gone"
    status = 410


class Conflict(AppError):
    code = "conflict"
    status = 409


class InvalidTransitionError(Conflict):
    """The workflow does not allow that move from the current state."""

    code = "invalid_transition"


class StaleUpdate(Conflict):
    """Someone else changed the row since the client loaded it."""

    code = "stale_update"


class PayloadTooLarge(AppError):
    code = "payload_too_large"
    status = 413


class RateLimited(AppError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
