"""The Celery bridge against a real Celery worker process (prefork) and a real taskwire server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN, Server, wait_until

from taskwire import Taskwire

HERE = Path(__file__).resolve().parent
QUEUE = f"taskwire-tests-{uuid.uuid4().hex[:12]}"
os.environ["CELERY_TEST_QUEUE"] = QUEUE
TIMEOUT = 30.0


def start_worker(server: Server, home: Path, queue: str, terminate: bool) -> subprocess.Popen[bytes]:
    """A real ``celery worker`` (prefork) with the bridge installed, consuming ``queue``."""
    log = home / "worker.log"
    env = os.environ | {
        "TASKWIRE_URL": server.url,
        "CELERY_TEST_QUEUE": queue,
        "CELERY_TEST_TERMINATE": "1" if terminate else "0",
        "PYTHONPATH": str(HERE),
    }
    command = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=prefork", "--concurrency=2"]
    command += ["-Q", queue, "-n", f"tw-{queue}@localhost", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + TIMEOUT
    while " ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"the Celery worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown; if a task still runs after 15 s, the worker and its pool processes are killed."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def worker(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The worker most tests use (terminate=True), on a queue of this run's own."""
    os.environ["TASKWIRE_URL"] = server.url
    import celery_app

    process = start_worker(server, tmp_path_factory.mktemp("celery"), QUEUE, terminate=True)
    try:
        yield celery_app
    finally:
        stop_worker(process)
        celery_app.app.control.purge()


@pytest.fixture(scope="module")
def cooperative_queue(server: Server, worker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second worker with terminate=False, on its own queue."""
    queue = QUEUE + "-coop"
    process = start_worker(server, tmp_path_factory.mktemp("celery-coop"), queue, terminate=False)
    try:
        yield queue
    finally:
        stop_worker(process)


def admin(server: Server) -> Taskwire:
    return Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])


def jobs_of(tw: Taskwire, task_id: str) -> list[dict[str, Any]]:
    """The jobs mirroring one Celery task (every attempt), oldest first."""
    return list(reversed(tw.list_jobs(scope=f"celery:{task_id}")["items"]))


def watch(tw: Taskwire, start: Any) -> tuple[Any, list[Any]]:
    """Starts a task (``start()`` returns its AsyncResult) and collects its job's events until the job ends."""

    async def scenario() -> tuple[Any, list[Any]]:
        stream = tw.events(["jobs"])
        ready = asyncio.ensure_future(stream.__anext__())  # connects and subscribes (since = now)
        await asyncio.sleep(0.3)
        result = await asyncio.to_thread(start)
        scope = f"celery:{result.id}"
        events = []

        async def collect() -> None:
            pending = ready
            while True:
                event = await pending
                if event.data.get("scope") == scope:
                    events.append(event)
                    if event.event in ("job.completed", "job.failed", "job.cancelled"):
                        return
                pending = asyncio.ensure_future(stream.__anext__())

        await asyncio.wait_for(collect(), TIMEOUT)
        await stream.aclose()
        return result, events

    return asyncio.run(scenario())


def test_a_task_with_report_progress_shows_live_progress_and_completes(server: Server, worker: Any) -> None:
    tw = admin(server)
    result, events = watch(tw, lambda: worker.count.delay(20, 0.05, fail_every=7))
    assert result.get(timeout=TIMEOUT) == 20
    names = [e.event for e in events]
    assert names[0] == "job.created"
    assert names[-1] == "job.completed"
    progress = [e.data["items_processed"] for e in events if e.event == "job.progress"]
    assert len([p for p in progress if 0 < p < 20]) >= 2, progress  # live figures on the way, not just the end
    assert progress == sorted(progress)
    end = events[-1].data
    assert end["kind"] == "celery_app.count"
    assert end["name"] == "count(20, 0.05, fail_every=7)"
    assert (end["items_total"], end["items_processed"], end["items_failed"]) == (20, 20, 2)
    assert end["message"] == "item 20 of 20"


def test_a_failing_task_fails_its_job_with_the_exception_text(server: Server, worker: Any) -> None:
    tw = admin(server)
    result, events = watch(tw, worker.boom.delay)
    with pytest.raises(ValueError, match="supplier feed"):
        result.get(timeout=TIMEOUT)
    end = events[-1]
    assert end.event == "job.failed"
    assert end.data["error_message"] == "ValueError: the supplier feed is down"
    assert end.data["items_processed"] == 1


def test_a_retried_task_fails_the_attempt_and_completes_in_a_new_job(server: Server, worker: Any) -> None:
    tw = admin(server)
    result = worker.flaky.delay()
    assert result.get(timeout=TIMEOUT) == "ok"
    attempts = wait_until(lambda: (jobs := jobs_of(tw, result.id)) and len(jobs) == 2 and jobs, timeout=10)
    first, second = attempts
    assert first["status"] == "failed"
    assert first["error_message"].startswith("retrying:")
    assert "supplier timed out" in first["error_message"]
    assert second["status"] == "completed"
    assert second["name"].endswith("(retry 1)")


def test_cancelling_the_job_on_the_dashboard_revokes_and_terminates_the_task(server: Server, worker: Any) -> None:
    tw = admin(server)
    dashboard = admin(server)

    def start_and_cancel() -> Any:
        result = worker.count.delay(10_000, 0.02)
        job = wait_until(lambda: (jobs := jobs_of(tw, result.id)) and jobs[0]["items_processed"] > 0 and jobs[0])
        dashboard.cancel_job(job["id"])
        return result

    result, events = watch(tw, start_and_cancel)
    end = events[-1]
    assert end.event == "job.cancelled"
    assert end.data["items_processed"] < 10_000
    assert "terminated" in end.data["message"]
    assert wait_until(lambda: result.state == "REVOKED", timeout=TIMEOUT)


def test_with_terminate_off_a_cancel_stops_the_task_at_its_next_report(
    server: Server, worker: Any, cooperative_queue: str
) -> None:
    tw = admin(server)
    dashboard = admin(server)

    def start_and_cancel() -> Any:
        result = worker.count.apply_async((10_000, 0.02), queue=cooperative_queue)
        job = wait_until(lambda: (jobs := jobs_of(tw, result.id)) and jobs[0]["items_processed"] > 0 and jobs[0])
        dashboard.cancel_job(job["id"])
        return result

    result, events = watch(tw, start_and_cancel)
    end = events[-1]
    assert end.event == "job.cancelled"
    assert end.data["message"].startswith("cancelled on taskwire; stopped after")
    assert wait_until(lambda: result.state == "REVOKED", timeout=TIMEOUT)


def test_a_crashed_pool_process_fails_the_job_instead_of_leaving_it_running(server: Server, worker: Any) -> None:
    tw = admin(server)
    result, events = watch(tw, worker.crash.delay)
    end = events[-1]
    assert end.event == "job.failed"
    assert "WorkerLostError" in end.data["error_message"]
    assert result.state == "FAILURE"


def test_a_job_without_heartbeat_is_failed_by_the_workers_sweep(server: Server, worker: Any) -> None:
    tw = admin(server)
    # Older than the orphan, so the sweep that fails the orphan saw it too: it must leave it alone.
    unrelated = tw.create_job("client_other", "Not a Celery job", scope="other:1")
    orphan = tw.create_job("celery_app.count", "count() on a worker that died", scope=f"celery:{uuid.uuid4()}")
    ended = wait_until(lambda: (job := tw.get_job(orphan["id"]))["status"] != "running" and job, timeout=TIMEOUT)
    assert ended["status"] == "failed"
    assert ended["error_message"].startswith("no heartbeat from its Celery worker for 10 s")
    assert tw.get_job(unrelated["id"])["status"] == "running"
    tw.finish_job(unrelated["id"], "completed")


def test_only_marked_tasks_are_mirrored(server: Server, worker: Any) -> None:
    tw = admin(server)
    quiet = worker.untracked.delay()
    assert quiet.get(timeout=TIMEOUT) == "quiet"
    assert jobs_of(tw, quiet.id) == []  # prerun would have created it before the task ran
    marked = worker.decorated.delay()
    assert marked.get(timeout=TIMEOUT) == "tracked"
    job = wait_until(lambda: (jobs := jobs_of(tw, marked.id)) and jobs[0]["status"] == "completed" and jobs[0])
    assert job["kind"] == "celery_app.decorated"
