"""One error hierarchy for the whole control plane.

Services raise these; each transport maps them once: HTTP answers
``{"error": {"code", "message"}}`` with :attr:`MeetingdError.status`, socket.io
answers ``{"ok": false, "error": {"code", "message"}}``. Anything that is not a
:class:`MeetingdError` is a bug: it becomes a 500 with its traceback in the log only.
"""

from __future__ import annotations


class MeetingdError(Exception):
    """A failure the caller can understand and act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ValidationError(MeetingdError):
    """The request is malformed: wrong type, unknown or missing field, bad value."""

    status = 400
    code = "invalid_request"


class AuthenticationError(MeetingdError):
    """No credentials, bad credentials, or an expired or revoked token."""

    status = 401
    code = "unauthenticated"


class PermissionDenied(MeetingdError):
    """The caller is known but has no role that allows this."""

    status = 403
    code = "forbidden"


class NotFound(MeetingdError):
    """The thing does not exist, or the caller may not know that it exists."""

    status = 404
    code = "not_found"


class ConflictError(MeetingdError):
    """The change collides with stored data (a duplicate code or login, a second ballot)."""

    status = 409
    code = "conflict"


class StateError(MeetingdError):
    """The command is not allowed in the current state (e.g. starting an ended meeting)."""

    status = 409
    code = "invalid_state"


class PayloadTooLarge(MeetingdError):
    """The request body is larger than the configured limit."""

    status = 413
    code = "payload_too_large"


class RateLimited(MeetingdError):
    """Too many attempts; retry after :attr:`retry_after` seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
