"""Exceptions carrying the server's error ``code`` and ``message``."""

from __future__ import annotations

from typing import Any


class TaskwireError(Exception):
    """An error answer from the server, in its documented ``{"error": {"code", "message"}}`` shape.

    ``code`` is stable and safe to branch on; ``message`` is a sentence for people.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after


class AuthError(TaskwireError):
    """401: wrong credentials, a disabled account, or a token that could not be renewed."""


class Forbidden(TaskwireError):
    """403: the caller's role or relation to the entity does not allow this."""


class NotFound(TaskwireError):
    """404: no such entity, or one the caller may not see."""


class ValidationFailed(TaskwireError):
    """400: a field is missing, malformed or out of range (also ``invalid_json``)."""


class InvalidState(TaskwireError):
    """409 ``invalid_state``: the action is not allowed from the entity's current state."""


class AlreadyRunning(TaskwireError):
    """409 ``already_running``: an exclusive job of this kind and scope is already running."""


class Conflict(TaskwireError):
    """409 ``conflict``: a unique value is taken, or someone else is checking the order."""


class RateLimited(TaskwireError):
    """429: too many attempts; ``retry_after`` says how many seconds to wait."""


class Unavailable(TaskwireError):
    """503: a dependency of the server is down, or the feature is not configured."""


class HistoryReset(TaskwireError):
    """The events after your ``since`` were pruned (``reset``): reload the state over REST.

    The server has already subscribed the channels from ``last_event_id`` on, so after
    reloading, resume with ``events(channels, since=error.last_event_id)``.
    """

    def __init__(self, message: str, last_event_id: int, pruned_through: int) -> None:
        super().__init__("reset", message)
        self.last_event_id = last_event_id
        self.pruned_through = pruned_through


class JobCancelled(Exception):
    """Raised inside a tracked job once an ADMIN asked it to stop; the job then ends ``cancelled``."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id


_BY_CODE: dict[str, type[TaskwireError]] = {
    "unauthenticated": AuthError,
    "token_expired": AuthError,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "validation_failed": ValidationFailed,
    "invalid_json": ValidationFailed,
    "invalid_message": ValidationFailed,
    "unknown_channel": ValidationFailed,
    "invalid_state": InvalidState,
    "already_running": AlreadyRunning,
    "conflict": Conflict,
    "rate_limited": RateLimited,
    "unavailable": Unavailable,
}


def error_for(code: str, message: str, **details: Any) -> TaskwireError:
    """The most specific exception class for an error ``code``."""
    return _BY_CODE.get(code, TaskwireError)(code, message, **details)


def from_response(status: int, body: Any, headers: Any) -> TaskwireError:
    """Builds the exception for a non-2xx answer (tolerating bodies that are not the documented shape)."""
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code", "http_error")) if isinstance(error, dict) else "http_error"
    message = str(error.get("message", "")) if isinstance(error, dict) else f"HTTP {status}"
    retry_after = headers.get("retry-after")
    return error_for(
        code,
        message,
        status=status,
        request_id=headers.get("x-request-id"),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
