"""Tracked jobs (sync and async) against a real server: throttled progress, failure, cancel."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest
from conftest import ADMIN, Server, wait_until

from taskwire import AsyncTaskwire, JobCancelled, Taskwire


def admin(server: Server) -> Taskwire:
    return Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])


class Spy:
    """Records when the client really sent progress (the server is real; only the calls are timed)."""

    def __init__(self, tw: Taskwire) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []
        real = tw.report_progress

        def report(job_id: int, **figures: Any) -> dict[str, Any]:
            self.sent.append((time.monotonic(), figures))
            return real(job_id, **figures)

        tw.report_progress = report  # type: ignore[method-assign]


def test_progress_is_sent_at_most_every_200ms_and_the_last_figure_always(server: Server) -> None:
    tw = admin(server)
    spy = Spy(tw)
    with tw.job("client_export", "Export 40 items", total=40) as job:
        for item in range(40):
            time.sleep(0.02)
            job.advance(failed=1 if item % 10 == 9 else 0, message=f"item {item + 1}")
    sends = [at for at, _ in spy.sent]
    assert 2 <= len(sends) < 20, sends  # ~0.8 s of work (more on a busy machine): not 40 requests
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    # every send but the finishing flush (which sends the last figure at once) waits out the 200 ms
    assert all(gap >= 0.19 for gap in gaps[:-1]), gaps
    final = tw.get_job(job.id)
    assert final["status"] == "completed"
    assert final["items_processed"] == 40
    assert final["items_failed"] == 4
    assert final["message"] == "item 40"


def test_a_held_back_figure_is_sent_by_the_timer_without_another_advance(server: Server) -> None:
    tw = admin(server)
    job = tw.job("client_export", "One item", total=3).start()
    job.advance(message="first")  # within 200 ms of the creation: held back
    wait_until(lambda: tw.get_job(job.id)["items_processed"] == 1, timeout=3)
    job.finish()
    assert tw.get_job(job.id)["status"] == "completed"


def test_an_exception_fails_the_job_with_its_text_and_propagates(server: Server) -> None:
    tw = admin(server)
    with pytest.raises(ValueError, match="the feed is down"), tw.job("client_import", "Import", total=10) as job:
        job.advance(3)
        raise ValueError("the feed is down")
    final = tw.get_job(job.id)
    assert final["status"] == "failed"
    assert final["error_message"] == "ValueError: the feed is down"
    assert final["items_processed"] == 3  # the held-back figure was sent before the finish


def test_a_cancel_on_the_dashboard_raises_job_cancelled_and_ends_the_job_cancelled(server: Server) -> None:
    tw = admin(server)
    dashboard = admin(server)
    started = threading.Event()
    handled = 0
    with tw.job("client_long", "Long job", total=10_000) as job:
        for _ in range(10_000):
            if handled == 5:
                dashboard.cancel_job(job.id)
                started.set()
            time.sleep(0.01)
            job.advance()
            handled += 1
    assert started.is_set()
    assert job.cancel_requested
    final = tw.get_job(job.id)
    assert final["status"] == "cancelled"
    assert final["items_processed"] < 10_000
    assert final["message"].startswith("stopped after")


def test_job_cancelled_is_raised_by_advance_once_the_server_says_so(server: Server) -> None:
    tw = admin(server)
    job = tw.job("client_long", "Checked job", total=100).start()
    tw.cancel_job(job.id)
    with pytest.raises(JobCancelled):
        job.heartbeat()
        job.advance()
    job.finish("cancelled")
    assert tw.get_job(job.id)["status"] == "cancelled"


def test_the_async_job_reports_throttled_progress_and_finishes(server: Server) -> None:
    async def scenario() -> tuple[list[float], dict[str, Any], dict[str, Any]]:
        async with AsyncTaskwire(server.url, username=ADMIN[0], password=ADMIN[1]) as tw:
            sent: list[float] = []
            real = tw.report_progress

            async def report(job_id: int, **figures: Any) -> dict[str, Any]:
                sent.append(time.monotonic())
                return await real(job_id, **figures)

            tw.report_progress = report  # type: ignore[method-assign]
            async with tw.job("client_async", "Async export", total=30) as job:
                for _ in range(30):
                    await asyncio.sleep(0.02)
                    await job.advance(message="async")
            ok = await tw.get_job(job.id)
            try:
                async with tw.job("client_async", "Async failure", total=5) as failing:
                    await failing.advance(2)
                    raise RuntimeError("disk full")
            except RuntimeError:
                pass
            return sent, ok, await tw.get_job(failing.id)

    sent, ok, failed = asyncio.run(scenario())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert len(sent) < 15, sent  # 30 advances, not 30 requests
    assert all(gap >= 0.19 for gap in gaps[:-2]), gaps  # the last two are finishing flushes of two jobs
    assert ok["status"] == "completed"
    assert ok["items_processed"] == 30
    assert failed["status"] == "failed"
    assert failed["error_message"] == "RuntimeError: disk full"
    assert failed["items_processed"] == 2


def test_the_async_client_makes_rest_calls(server: Server) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with AsyncTaskwire(server.url, username=ADMIN[0], password=ADMIN[1]) as tw:
            task = await tw.create_task("Async task", "vehicle_registration")
            found = await tw.list_tasks(q="ASYNC TASK", workflow="vehicle_registration")
            return await tw.me(), await tw.get_task(task["id"]), found

    me, task, found = asyncio.run(scenario())
    assert me["role"] == "ADMIN"
    assert task["title"] == "Async task"
    assert task["id"] in [t["id"] for t in found["items"]]
