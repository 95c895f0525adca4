"""A tracked job for the sync client: throttled progress, cancellation, and the finish on leaving a block."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _session
from .errors import InvalidState, JobCancelled, TaskwireError

if TYPE_CHECKING:
    from .client import Taskwire

log = logging.getLogger("taskwire")


class Job:
    """One worker job on the server, reporting as it goes.

    ``advance`` counts items locally and sends the figures at most every ``interval``
    seconds; figures held back are sent by a timer, and before the finish, so the
    last one always arrives. Each answer says whether an ADMIN asked the job to stop:
    then ``cancel_requested`` is true and ``advance`` raises :class:`JobCancelled`.
    """

    def __init__(
        self,
        client: Taskwire,
        kind: str,
        name: str,
        *,
        total: int = 0,
        scope: str | None = None,
        exclusive: bool = False,
        interval: float = 0.2,
    ) -> None:
        self.client = client
        self.kind, self.name, self.scope, self.exclusive = kind, name, scope, exclusive
        self.interval = interval
        self.total = total
        self.processed = 0
        self.failed = 0
        self.message: str | None = None
        self.data: dict[str, Any] = {}
        self.finished = False
        self._cancel_requested = False
        self._dirty = False
        self._last_sent = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()

    @property
    def id(self) -> int:
        """The job's id on the server (once started)."""
        return int(self.data["id"])

    @property
    def cancel_requested(self) -> bool:
        """True once the server said an ADMIN asked this job to stop (or it was ended from outside)."""
        return self._cancel_requested

    def start(self) -> Job:
        """Creates the job on the server (``running`` at once); ``with`` does this for you."""
        self.data = self.client.create_job(
            self.kind, self.name, total=self.total, scope=self.scope, exclusive=self.exclusive
        )
        self._last_sent = time.monotonic()
        return self

    def advance(self, n: int = 1, failed: int = 0, message: str | None = None) -> None:
        """Counts ``n`` more handled items, ``failed`` of them failed; raises :class:`JobCancelled` on cancel."""
        with self._lock:
            self.processed += n
            self.failed += failed
            if message is not None:
                self.message = message
            self._changed()
        self.check_cancelled()

    def update(
        self,
        processed: int | None = None,
        total: int | None = None,
        failed: int | None = None,
        message: str | None = None,
    ) -> None:
        """Sets absolute figures (what a ``report_progress(done, total)`` helper needs); throttled like advance."""
        with self._lock:
            if processed is not None:
                self.processed = processed
            if total is not None:
                self.total = total
            if failed is not None:
                self.failed = failed
            if message is not None:
                self.message = message
            self._changed()

    def check_cancelled(self) -> None:
        """Raises :class:`JobCancelled` if the job was asked to stop."""
        if self._cancel_requested:
            raise JobCancelled(self.id if self.data else 0)

    def _changed(self) -> None:
        self._dirty = True
        wait = self._last_sent + self.interval - time.monotonic()
        if wait <= 0:
            self._send()
        elif self._timer is None:
            self._timer = threading.Timer(wait, self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._dirty and not self.finished:
                try:
                    self._send()
                except Exception as exc:  # a background send must not kill the timer thread
                    log.warning("taskwire: progress of job %s not sent: %s", self.data.get("id"), exc)

    def _send(self) -> None:
        """Sends the current figures now (the caller holds the lock)."""
        self._dirty = False
        self._last_sent = time.monotonic()
        try:
            answer = self.client.report_progress(
                self.id, processed=self.processed, failed=self.failed, total=self.total, message=self.message
            )
        except InvalidState:
            # Finished from outside (an ADMIN called finish): stop like a cancel.
            self._cancel_requested = True
            self.finished = True
            return
        self._seen(answer)

    def _seen(self, answer: dict[str, Any]) -> None:
        self.data = answer
        if answer.get("cancel_requested"):
            self._cancel_requested = True

    def flush(self) -> None:
        """Sends figures held back by the throttle now."""
        with self._lock:
            if self._dirty and not self.finished:
                self._send()

    def heartbeat(self) -> dict[str, Any]:
        """Reports the current figures whether or not they changed: keeps the job fresh and learns of a cancel."""
        with self._lock:
            if not self.finished:
                self._send()
            return self.data

    def finish(
        self, status: str = "completed", *, message: str | None = None, error_message: str | None = None
    ) -> None:
        """Sends the last figures, then ends the job; ending one that is already finished does nothing."""
        with self._lock:
            if self.finished:
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            try:
                if self._dirty:
                    self._send()
                if self.finished:
                    return
                self.data = self.client.finish_job(self.id, status, message=message, error_message=error_message)
            except InvalidState:
                pass  # somebody (an ADMIN, a sweep) ended it first
            self.finished = True

    def __enter__(self) -> Job:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None:
            self.finish("completed")
            return False
        if isinstance(exc, JobCancelled):
            self.finish("cancelled", message=f"stopped after {self.processed} items")
            return True
        try:
            self.finish("failed", error_message=_session.failure_text(exc))
        except TaskwireError as report_error:
            log.warning("taskwire: could not record the failure of job %s: %s", self.data.get("id"), report_error)
        return False
