"""taskwire: a client for the taskwire server (REST, tracked jobs, live events) and a Celery bridge."""

from .aio import AsyncJob, AsyncTaskwire
from .client import Taskwire
from .errors import (
    AlreadyRunning,
    AuthError,
    Conflict,
    Forbidden,
    HistoryReset,
    InvalidState,
    JobCancelled,
    NotFound,
    RateLimited,
    TaskwireError,
    Unavailable,
    ValidationFailed,
)
from .events import Event
from .jobs import Job

__all__ = [
    "AlreadyRunning",
    "AsyncJob",
    "AsyncTaskwire",
    "AuthError",
    "Conflict",
    "Event",
    "Forbidden",
    "HistoryReset",
    "InvalidState",
    "Job",
    "JobCancelled",
    "NotFound",
    "RateLimited",
    "Taskwire",
    "TaskwireError",
    "Unavailable",
    "ValidationFailed",
]
__version__ = "0.1.0"
