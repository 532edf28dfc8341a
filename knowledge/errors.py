"""Errors a user can meet, each with a stable code; api/errors.py maps the classes to HTTP."""

from __future__ import annotations


class VisitlensError(Exception):
    code = "internal"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(VisitlensError):
    code = "not_found"


class Conflict(VisitlensError):
    code = "conflict"


class InvalidInput(VisitlensError):
    code = "invalid_input"


class TooLarge(VisitlensError):
    code = "file_too_large"


class Unauthorized(VisitlensError):
    code = "unauthorized"


class Forbidden(VisitlensError):
    code = "forbidden"


class TooManyRequests(VisitlensError):
    code = "rate_limited"


class UnsupportedMedia(VisitlensError):
    code = "unsupported_media"


class Unavailable(VisitlensError):
    code = "unavailable"


class TransientError(VisitlensError):
    """A fault worth retrying: broker, database or index briefly unreachable."""

    code = "transient"


class VisitNotFound(NotFound):
    code = "visit_not_found"

    def __init__(self, visit_id: str) -> None:
        super().__init__(f"No visit with id {visit_id}.")


class NotReady(Conflict):
    code = "not_ready"
