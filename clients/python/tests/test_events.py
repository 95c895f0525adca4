"""Live events against a real server: replay with since, resume after a restart, errors and close codes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest
from conftest import ADMIN, WORKER, Server

from taskwire import AsyncTaskwire, AuthError, Event, Forbidden, HistoryReset, Taskwire, ValidationFailed

TIMEOUT = 20.0


async def next_event(stream: AsyncIterator[Event], name: str, task_id: int) -> Event:
    """The next event of this kind for this task, skipping others; fails after a timeout."""

    async def find() -> Event:
        async for event in stream:
            if event.event == name and event.data.get("id") == task_id:
                return event
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(find(), TIMEOUT)


def test_live_events_then_replay_with_since(server: Server) -> None:
    tw = Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])

    async def scenario() -> None:
        stream = tw.events(["tasks"])
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # the stream connects while the task is created
        task = None
        for _ in range(50):  # the subscription may start after the first creation: create until one arrives
            task = await asyncio.to_thread(tw.create_task, "Live", "vehicle_registration")
            done, _ = await asyncio.wait({first}, timeout=0.5)
            if done:
                break
        live = first.result()
        assert live.event == "task.created"
        assert live.channel == "tasks"
        assert task is not None
        later = await asyncio.to_thread(tw.create_task, "Later", "vehicle_registration")
        replay = tw.events(["tasks"], since=live.id)
        replayed = await next_event(replay, "task.created", later["id"])
        assert replayed.id > live.id
        await stream.aclose()
        await replay.aclose()

    asyncio.run(scenario())


def test_the_stream_resumes_after_a_server_restart_without_gaps_or_duplicates(fresh_server: Server) -> None:
    async def scenario() -> None:
        tw = AsyncTaskwire(fresh_server.url, username=ADMIN[0], password=ADMIN[1])
        stream = tw.events(["tasks"])
        consumer = asyncio.ensure_future(stream.__anext__())
        before = None
        while not consumer.done():
            before = await tw.create_task("Before the restart", "vehicle_registration")
            await asyncio.wait({consumer}, timeout=0.5)
        seen = [consumer.result()]
        assert before is not None
        # The server stops (sessions get 1001) and comes back with another signing secret,
        # so the held access token is refused (4401) and the client refreshes it.
        await asyncio.to_thread(fresh_server.stop)
        fresh_server.secret = "another-secret-for-the-restarted-server-0123456789"
        await asyncio.to_thread(fresh_server.start)
        other = Taskwire(fresh_server.url, username=WORKER[0], password=WORKER[1])
        created = [await asyncio.to_thread(other.create_task, f"After {n}", "vehicle_registration") for n in range(3)]

        async def rest() -> list[Event]:
            events = []
            async for event in stream:
                events.append(event)
                if event.data["id"] == created[-1]["id"]:
                    return events
            raise AssertionError("the stream ended")

        seen += await asyncio.wait_for(rest(), TIMEOUT)
        ids = [e.id for e in seen]
        assert ids == sorted(set(ids)), ids  # increasing, no duplicate
        after = [e.data["id"] for e in seen if e.event == "task.created" and e.data["title"].startswith("After")]
        assert after == [t["id"] for t in created]
        await stream.aclose()
        await tw.aclose()

    asyncio.run(scenario())


def test_an_account_change_closes_with_4401_and_the_stream_carries_on(server: Server) -> None:
    boss = Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])
    worker = Taskwire(server.url, username=WORKER[0], password=WORKER[1])
    me = worker.me()

    async def scenario() -> None:
        stream = worker.events(["tasks"])
        first = asyncio.ensure_future(stream.__anext__())
        task = None
        while not first.done():
            task = await asyncio.to_thread(worker.create_task, "Mine", "vehicle_registration")
            await asyncio.wait({first}, timeout=0.5)
        assert task is not None
        # Any successful PATCH closes the user's sessions with 4401 "your account was changed".
        await asyncio.to_thread(boss.request, "PATCH", f"/api/users/{me['id']}", json={"role": "ADMIN_LIMITED"})
        after = await asyncio.to_thread(worker.create_task, "After the change", "vehicle_registration")
        event = await next_event(stream, "task.created", after["id"])
        assert event.data["title"] == "After the change"
        await stream.aclose()

    asyncio.run(scenario())


def test_a_forbidden_channel_raises_with_the_frames_code(server: Server) -> None:
    worker = Taskwire(server.url, username=WORKER[0], password=WORKER[1])
    admin = Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])

    async def first(tw: Taskwire, channels: list[str]) -> Event:
        return await asyncio.wait_for(tw.events(channels).__anext__(), TIMEOUT)

    with pytest.raises(Forbidden) as forbidden:
        asyncio.run(first(worker, ["jobs"]))
    assert forbidden.value.code == "forbidden"
    with pytest.raises(ValidationFailed) as unknown:
        asyncio.run(first(admin, ["weather"]))
    assert unknown.value.code == "unknown_channel"


def test_a_disabled_account_ends_the_stream_with_auth_error(fresh_server: Server) -> None:
    boss = Taskwire(fresh_server.url, username=ADMIN[0], password=ADMIN[1])
    worker = Taskwire(fresh_server.url, username=WORKER[0], password=WORKER[1])
    me = worker.me()

    async def scenario() -> None:
        stream = worker.events(["tasks"])
        first = asyncio.ensure_future(stream.__anext__())
        while not first.done():
            await asyncio.to_thread(worker.create_task, "Mine", "vehicle_registration")
            await asyncio.wait({first}, timeout=0.5)
        await asyncio.to_thread(boss.request, "PATCH", f"/api/users/{me['id']}", json={"is_active": False})
        with pytest.raises(AuthError):
            await asyncio.wait_for(stream.__anext__(), TIMEOUT)

    asyncio.run(scenario())


def prune_all_events(server: Server) -> int:
    """Does to the server's database what its retention pruner does: deletes the events, moves the horizon."""
    with sqlite3.connect(server.home / "taskwire.db") as db:
        (newest,) = db.execute("SELECT MAX(id) FROM events").fetchone()
        db.execute("DELETE FROM events WHERE id <= ?", (newest,))
        db.execute("UPDATE event_horizon SET pruned_through = ? WHERE id = 1", (newest,))
    return int(newest)


def test_a_since_before_the_pruned_history_raises_history_reset_then_follows_live(fresh_server: Server) -> None:
    tw = Taskwire(fresh_server.url, username=ADMIN[0], password=ADMIN[1])
    tw.create_task("Before the prune", "vehicle_registration")
    pruned_through = prune_all_events(fresh_server)

    async def scenario() -> None:
        stale = tw.events(["tasks"], since=pruned_through - 1, reconnect=False)
        with pytest.raises(HistoryReset) as reset:
            await asyncio.wait_for(stale.__anext__(), TIMEOUT)
        assert reset.value.code == "reset"
        assert reset.value.pruned_through == pruned_through
        assert reset.value.last_event_id >= pruned_through
        # As documented: reload over REST, then follow from the reset's last_event_id.
        follow = tw.events(["tasks"], since=reset.value.last_event_id)
        later = await asyncio.to_thread(tw.create_task, "After the prune", "vehicle_registration")
        event = await next_event(follow, "task.created", later["id"])
        assert event.id > pruned_through
        await follow.aclose()

    asyncio.run(scenario())
