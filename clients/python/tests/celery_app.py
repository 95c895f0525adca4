"""The Celery app the bridge tests run in a real worker process (broker and backend: the machine's Redis)."""

from __future__ import annotations

import os
import signal
import time

from celery import Celery

import taskwire.celery
from taskwire import Taskwire
from taskwire.celery import report_progress

BROKER = os.environ.get("CELERY_TEST_BROKER", "redis://127.0.0.1:6379/13")

app = Celery("celery_app", broker=BROKER, backend=BROKER)
app.conf.update(
    task_default_queue=os.environ.get("CELERY_TEST_QUEUE", "taskwire-tests"),
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    result_expires=600,
    task_track_started=True,
    worker_lost_wait=1.0,  # report a killed pool process after 1 s, not 10 (before the 10 s stale sweep)
)

tw = Taskwire(
    os.environ.get("TASKWIRE_URL", "http://127.0.0.1:8080"),
    username=os.environ.get("TASKWIRE_USER", "admin"),
    password=os.environ.get("TASKWIRE_PASSWORD", "admin-demo"),
)
# CELERY_TEST_TERMINATE=0 runs the cooperative variant: a cancel stops the task at its next report_progress.
TERMINATE = os.environ.get("CELERY_TEST_TERMINATE", "1") == "1"
bridge = taskwire.celery.install(app, tw, tasks="marked", terminate=TERMINATE, heartbeat=0.3, stale_after=10.0)


@app.task(taskwire=True)
def count(n: int, delay: float, fail_every: int = 0) -> int:
    """Handles ``n`` items, one every ``delay`` seconds; every ``fail_every``-th fails."""
    failed = 0
    for item in range(1, n + 1):
        time.sleep(delay)
        if fail_every and item % fail_every == 0:
            failed += 1
        report_progress(item, n, failed=failed, message=f"item {item} of {n}")
    return n


@app.task(taskwire=True)
def boom() -> None:
    """Fails at once."""
    report_progress(1, 4, message="first item read")
    raise ValueError("the supplier feed is down")


@app.task(bind=True, taskwire=True, max_retries=1)
def flaky(self) -> str:  # type: ignore[no-untyped-def]
    """Fails its first attempt and asks Celery to retry."""
    if self.request.retries == 0:
        raise self.retry(exc=ConnectionError("supplier timed out"), countdown=0.1)
    return "ok"


@app.task(taskwire=True)
def crash() -> None:
    """Kills its own pool process, as an out-of-memory kill would."""
    report_progress(1, 10)
    os.kill(os.getpid(), signal.SIGKILL)


@app.task
@taskwire.celery.tracked
def decorated() -> str:
    """Marked with the decorator instead of the task option."""
    return "tracked"


@app.task
def untracked() -> str:
    """Not marked: no job, and report_progress does nothing."""
    report_progress(1, 1)
    return "quiet"
