"""The Celery bridge: Celery tasks mirrored as taskwire jobs, live on the jobs dashboard.

``install(app, tw)`` in the module that defines the Celery app is all it takes::

    tw = Taskwire("http://taskwire:8080", username="celery", password="...")
    taskwire.celery.install(app, tw)                 # every task; or tasks="marked" / tasks=["a.b"]

    @app.task(taskwire=True)                          # marks a task for tasks="marked"
    def import_prices(feed):
        for done, row in enumerate(rows, 1):
            ...
            report_progress(done, len(rows), failed=bad, message=f"row {done}")

What happens, per task run (an *attempt*):

- ``task_prerun`` creates a job (kind = the task's name, scope ``celery:<task id>``), ``running``.
- ``report_progress`` sends figures (at most every 200 ms, the last always).
- success → ``completed``; an exception → ``failed`` with ``"ValueError: text"``;
  ``self.retry`` → this attempt's job ``failed`` with ``"retrying: …"`` (the retry gets a new job);
  revoked → ``cancelled``.
- **Cancel on the dashboard**: a heartbeat thread reports every ``heartbeat`` seconds and
  learns ``cancel_requested``; the bridge then revokes the task. With ``terminate=True``
  (default) the job is finished ``cancelled`` and the worker kills the task's process
  (prefork pool); with ``terminate=False`` the next ``report_progress`` ends the job
  ``cancelled``, records the task ``REVOKED`` and raises :class:`TaskCancelled`
  (a :class:`taskwire.JobCancelled` and a Celery ``Ignore``).
- **Crashes**: a pool process that dies (SIGKILL, out of memory) is noticed by the worker's
  main process (Celery's ``WorkerLostError``), which fails the job. A whole worker that dies
  stops heartbeating; every bridge's main process sweeps running ``celery:`` jobs and fails
  those without a heartbeat for ``stale_after`` seconds (the server itself never touches
  external jobs). Give all workers the same ``heartbeat``/``stale_after``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from celery import Celery, current_task, signals
from celery.exceptions import Ignore

from . import _session
from .client import Taskwire
from .errors import JobCancelled, TaskwireError
from .jobs import Job

log = logging.getLogger("taskwire.celery")

SCOPE_PREFIX = "celery:"
F = TypeVar("F", bound=Callable[..., Any])

_installed: Bridge | None = None


def tracked(fn: F) -> F:
    """Marks a task function for ``tasks="marked"`` (put it below ``@app.task``); same as ``@app.task(taskwire=True)``."""
    fn._taskwire_tracked = True  # type: ignore[attr-defined]
    return fn


def install(
    app: Celery,
    tw: Taskwire,
    *,
    tasks: Literal["all", "marked"] | Iterable[str] = "all",
    terminate: bool = True,
    terminate_signal: str = "SIGTERM",
    heartbeat: float = 5.0,
    stale_after: float = 60.0,
    kind: Callable[[Any], str] | None = None,
    name: Callable[[Any, tuple[Any, ...], dict[str, Any]], str] | None = None,
) -> Bridge:
    """Mirrors the app's tasks as taskwire jobs; returns the bridge (one per process)."""
    global _installed
    if _installed is not None:
        _installed.disconnect()
    _installed = Bridge(
        app,
        tw,
        tasks=tasks,
        terminate=terminate,
        terminate_signal=terminate_signal,
        heartbeat=heartbeat,
        stale_after=stale_after,
        kind=kind,
        name=name,
    )
    return _installed


def report_progress(done: int, total: int | None, failed: int = 0, message: str | None = None) -> None:
    """Reports the running task's figures (absolute); raises :class:`JobCancelled` once the job was cancelled.

    Does nothing outside a tracked task, so tasks stay runnable without the bridge.
    """
    bridge = _installed
    task_id = getattr(getattr(current_task, "request", None), "id", None)
    mirror = bridge.mirrors.get(task_id) if bridge is not None and task_id else None
    if mirror is None:
        return
    try:
        mirror.job.update(processed=done, total=total, failed=failed, message=message)
    except TaskwireError as exc:
        log.warning("taskwire: progress of task %s not sent: %s", task_id, exc)
    except Exception as exc:  # the worker's own job must not fail because the dashboard is unreachable
        log.warning("taskwire: progress of task %s not sent: %r", task_id, exc)
    if mirror.job.cancel_requested:
        assert bridge is not None
        bridge._cancel(task_id, mirror)
        if not bridge.terminate:
            bridge._stop_cooperatively(task_id, mirror)


class TaskCancelled(JobCancelled, Ignore):
    """Raised by ``report_progress`` once the task's job was cancelled (``terminate=False``).

    A :class:`JobCancelled` for your code, and Celery's ``Ignore`` for the worker, so the
    task's recorded state stays ``REVOKED`` instead of becoming a failure.
    """


class _Mirror:
    """One running task attempt and its job, with the heartbeat that keeps it fresh."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.cancelling = False
        self.lock = threading.Lock()


class Bridge:
    """The installed bridge: Celery signal handlers plus the heartbeat and stale-job sweep threads."""

    def __init__(
        self,
        app: Celery,
        tw: Taskwire,
        *,
        tasks: Literal["all", "marked"] | Iterable[str],
        terminate: bool,
        terminate_signal: str,
        heartbeat: float,
        stale_after: float,
        kind: Callable[[Any], str] | None,
        name: Callable[[Any, tuple[Any, ...], dict[str, Any]], str] | None,
    ) -> None:
        self.app = app
        self.tw = tw
        self.select: str | frozenset[str] = tasks if isinstance(tasks, str) else frozenset(tasks)
        self.terminate = terminate
        self.terminate_signal = terminate_signal
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.kind = kind or default_kind
        self.name = name or default_name
        self.mirrors: dict[str, _Mirror] = {}
        self._sweeper_stop = threading.Event()
        self._connections = [
            (signals.task_prerun, self._on_prerun),
            (signals.task_success, self._on_success),
            (signals.task_failure, self._on_failure),
            (signals.task_retry, self._on_retry),
            (signals.task_revoked, self._on_revoked),
            (signals.task_postrun, self._on_postrun),
            (signals.worker_ready, self._on_worker_ready),
            (signals.worker_shutdown, self._on_worker_shutdown),
        ]
        for signal, handler in self._connections:
            signal.connect(handler, weak=False)

    def disconnect(self) -> None:
        """Detaches the signal handlers (another ``install`` replaces this bridge)."""
        for signal, handler in self._connections:
            signal.disconnect(handler)
        self._sweeper_stop.set()

    def selected(self, task: Any) -> bool:
        """Whether this task is mirrored: all tasks (Celery's own excepted), marked ones, or those named."""
        if task is None:
            return False
        marked = getattr(task, "taskwire", None)
        run = getattr(task, "run", None)
        marked = marked if marked is not None else (getattr(run, "_taskwire_tracked", None) or None)
        name = getattr(task, "name", "") or ""
        if self.select == "all":
            return marked is not False and not name.startswith("celery.")
        if self.select == "marked":
            return bool(marked)
        return bool(marked) or name in self.select

    # -- in the process that runs the task --------------------------------------------------

    def _on_prerun(self, sender: Any = None, task_id: str | None = None, task: Any = None, **kw: Any) -> None:
        task = task or sender
        if not task_id or not self.selected(task):
            return
        args = tuple(kw.get("args") or ())
        kwargs = dict(kw.get("kwargs") or {})
        label = self.name(task, args, kwargs)
        retries = getattr(getattr(task, "request", None), "retries", 0) or 0
        if retries:
            label = f"{label} (retry {retries})"
        job = Job(self.tw, self.kind(task), label[:200], scope=f"{SCOPE_PREFIX}{task_id}")
        try:
            job.start()
        except Exception as exc:
            log.warning("taskwire: no job for task %s[%s]: %s", getattr(task, "name", "?"), task_id, exc)
            return
        mirror = _Mirror(job)
        self.mirrors[task_id] = mirror
        mirror.thread = threading.Thread(
            target=self._beat, args=(task_id, mirror), name=f"taskwire-heartbeat-{task_id}", daemon=True
        )
        mirror.thread.start()

    def _beat(self, task_id: str, mirror: _Mirror) -> None:
        """Reports every ``heartbeat`` seconds, and revokes the task once its job was cancelled."""
        while not mirror.stop.wait(self.heartbeat):
            try:
                mirror.job.heartbeat()
            except Exception as exc:
                log.warning("taskwire: heartbeat of task %s failed: %s", task_id, exc)
                continue
            if mirror.job.cancel_requested and not mirror.stop.is_set():
                self._cancel(task_id, mirror)
                return

    def _cancel(self, task_id: str, mirror: _Mirror) -> None:
        """Revokes the task whose job was cancelled (once): terminated, or stopped at its next report."""
        with mirror.lock:
            if mirror.cancelling:
                return
            mirror.cancelling = True
        if self.terminate:
            try:
                mirror.job.finish("cancelled", message="cancelled on taskwire; the Celery task was terminated")
            except Exception as exc:
                log.warning("taskwire: could not finish the cancelled job of task %s: %s", task_id, exc)
            self.app.control.revoke(task_id, terminate=True, signal=self.terminate_signal)
        else:
            self.app.control.revoke(task_id)

    def _stop_cooperatively(self, task_id: str, mirror: _Mirror) -> None:
        """Ends a cancelled task from inside it: job ``cancelled``, Celery state ``REVOKED``, then stops it."""
        self._finish(task_id, "cancelled", message=f"cancelled on taskwire; stopped after {mirror.job.processed} items")
        try:
            current_task.backend.mark_as_revoked(task_id, "cancelled on taskwire", request=current_task.request)
        except Exception as exc:
            log.warning("taskwire: could not mark task %s revoked: %s", task_id, exc)
        raise TaskCancelled(mirror.job.id)

    def _finish(self, task_id: str | None, status: str, **fields: Any) -> bool:
        """Finishes the attempt's job if this process runs it; False when it does not."""
        mirror = self.mirrors.get(task_id or "")
        if mirror is None:
            return False
        mirror.stop.set()
        try:
            mirror.job.finish(status, **fields)
        except Exception as exc:
            log.warning("taskwire: could not finish the job of task %s: %s", task_id, exc)
        return True

    def _on_success(self, sender: Any = None, **_: Any) -> None:
        self._finish(getattr(getattr(sender, "request", None), "id", None), "completed")

    def _on_failure(
        self, sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **_: Any
    ) -> None:
        if isinstance(exception, JobCancelled):
            job = self.mirrors[task_id].job if task_id in self.mirrors else None
            done = job.processed if job else 0
            self._finish(task_id, "cancelled", message=f"cancelled on taskwire; stopped after {done} items")
            return
        text = _session.failure_text(exception) if exception is not None else "the task failed"
        if not self._finish(task_id, "failed", error_message=text) and self.selected(sender):
            # The worker's main process: the pool process running the task died (WorkerLostError).
            self._finish_elsewhere(task_id, "failed", error_message=text)

    def _on_retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        task_id = getattr(request, "id", None)
        self._finish(
            task_id,
            "failed",
            error_message=f"retrying: {reason}"[:2000],
            message="this attempt failed; Celery retries the task",
        )

    def _on_revoked(self, sender: Any = None, request: Any = None, terminated: bool = False, **kw: Any) -> None:
        task_id = getattr(request, "id", None)
        how = f"terminated (signal {kw.get('signum')})" if terminated else "revoked"
        message = f"the Celery task was {how}"
        if not self._finish(task_id, "cancelled", message=message) and self.selected(getattr(request, "task", sender)):
            self._finish_elsewhere(task_id, "cancelled", message=message)

    def _on_postrun(self, sender: Any = None, task_id: str | None = None, state: str | None = None, **_: Any) -> None:
        mirror = self.mirrors.pop(task_id or "", None)
        if mirror is None:
            return
        mirror.stop.set()
        if not mirror.job.finished:  # Ignore, Reject or a handler that could not report
            status = "completed" if state == "SUCCESS" else "failed"
            try:
                mirror.job.finish(status, error_message=None if status == "completed" else f"Celery state {state}")
            except Exception as exc:
                log.warning("taskwire: could not finish the job of task %s: %s", task_id, exc)

    def _finish_elsewhere(self, task_id: str | None, status: str, **fields: Any) -> None:
        """Finishes the running job of a task run by another process (found by its ``celery:`` scope)."""
        if not task_id:
            return
        try:
            page = self.tw.list_jobs(status="running", scope=f"{SCOPE_PREFIX}{task_id}")
            for job in page["items"]:
                self.tw.finish_job(job["id"], status, **fields)
        except Exception as exc:
            log.warning("taskwire: could not finish the job of task %s: %s", task_id, exc)

    # -- in the worker's main process ------------------------------------------------------

    def _on_worker_ready(self, **_: Any) -> None:
        self._sweeper_stop.clear()
        threading.Thread(target=self._sweep_loop, name="taskwire-stale-sweep", daemon=True).start()

    def _on_worker_shutdown(self, **_: Any) -> None:
        self._sweeper_stop.set()

    def _sweep_loop(self) -> None:
        interval = max(0.5, min(30.0, self.stale_after / 3))
        while True:
            try:
                self.sweep()
            except Exception as exc:
                log.warning("taskwire: stale-job sweep failed: %s", exc)
            if self._sweeper_stop.wait(interval):
                return

    def sweep(self) -> list[int]:
        """Fails running ``celery:`` jobs that had no heartbeat for ``stale_after`` seconds; returns their ids."""
        now = datetime.now(timezone.utc)
        failed: list[int] = []
        before: int | None = None
        while True:
            page = self.tw.list_jobs(status="running", limit=200, before=before)
            for job in page["items"]:
                if not (job.get("scope") or "").startswith(SCOPE_PREFIX):
                    continue
                age = (now - _parse_time(job["updated_at"])).total_seconds()
                if age > self.stale_after:
                    try:
                        self.tw.finish_job(
                            job["id"],
                            "failed",
                            error_message=f"no heartbeat from its Celery worker for {self.stale_after:g} s: "
                            "the worker stopped or crashed",
                        )
                        failed.append(job["id"])
                    except TaskwireError as exc:
                        log.info("taskwire: stale job %s not failed: %s", job["id"], exc)
            before = page.get("next_before")
            if before is None:
                return failed


def default_kind(task: Any) -> str:
    """The job kind for a task: its name, in the characters the server accepts (at most 64)."""
    kind = re.sub(r"[^A-Za-z0-9_.:-]", "_", getattr(task, "name", "") or "celery_task")
    return kind[-64:] or "celery_task"


def default_name(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The job name for a run: ``import_prices('feed.csv', limit=5)``."""
    short = (getattr(task, "name", "") or "task").rsplit(".", 1)[-1]
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{short}({text})"


def _parse_time(value: str) -> datetime:
    """Parses the server's RFC 3339 times (``Z`` suffix, any number of fractional digits)."""
    head, _, frac = value.rstrip("Z").partition(".")
    parsed = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    if frac:
        parsed = parsed.replace(microsecond=int((frac + "000000")[:6]))
    return parsed
