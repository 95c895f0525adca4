"""Live events over ``/ws``: subscribe with ``since``, follow, and resume after a dropped connection."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .errors import AuthError, Forbidden, HistoryReset, TaskwireError, error_for

log = logging.getLogger("taskwire")

# Close codes the server documents (docs/API.md, "Keepalive, limits and close codes").
CLOSE_UNAUTHENTICATED = 4401
CLOSE_ORIGIN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_BIG = 1009


@dataclass(frozen=True)
class Event:
    """One event frame: a change to a task, job or order, with the entity as it is after the change."""

    id: int
    channel: str
    event: str
    at: str
    data: dict[str, Any]


async def stream(
    url: str,
    token: Callable[[bool], Awaitable[str]],
    channels: list[str],
    *,
    since: int | None = None,
    reconnect: bool = True,
    max_backoff: float = 5.0,
) -> AsyncIterator[Event]:
    """Yields the events of ``channels`` after ``since`` (or from now), reconnecting as documented.

    - Dropped connection, server shutdown (1001), too slow (4408): reconnect with
      backoff and resubscribe with ``since`` = the last event id received.
    - 4401 (token expired, account changed): renew the token once and reconnect;
      a second refusal raises :class:`AuthError`.
    - 4403 (origin), 1009 (too big) and ``error`` frames answering the subscription
      (``forbidden``, ``unknown_channel``, ``invalid_message`` — e.g. more than 10,000
      events to replay: reload over REST) raise; ``unavailable`` retries the subscription.
    - ``reset`` (what came after ``since`` was pruned) raises :class:`HistoryReset`:
      reload over REST, then follow with ``since=error.last_event_id``.
    """
    last = since
    renew = False
    attempt = 0
    while True:
        access = await token(renew)
        refused_now = False
        try:
            async with connect(url, additional_headers={"Authorization": f"Bearer {access}"}, open_timeout=10) as ws:
                ready = json.loads(await ws.recv())
                if ready.get("type") != "ready":
                    raise TaskwireError("invalid_message", f"expected ready, got {ready.get('type')}")
                renew = False
                if last is None:
                    last = int(ready["last_event_id"])
                await ws.send(json.dumps({"type": "subscribe", "channels": channels, "since": last}))
                async for raw in ws:
                    frame = json.loads(raw)
                    kind = frame.get("type")
                    if kind == "event":
                        if frame["id"] <= last:
                            continue
                        last = frame["id"]
                        yield Event(frame["id"], frame["channel"], frame["event"], frame["at"], frame["data"])
                    elif kind == "subscribed":
                        attempt = 0
                    elif kind == "reset":
                        raise HistoryReset(
                            frame.get("message", "events after since were pruned; reload over REST"),
                            int(frame["last_event_id"]),
                            int(frame["pruned_through"]),
                        )
                    elif kind == "error":
                        code, message = frame.get("code", "invalid_message"), frame.get("message", "")
                        if code != "unavailable":
                            raise error_for(code, message)
                        await asyncio.sleep(1.0)
                        await ws.send(json.dumps({"type": "subscribe", "channels": channels, "since": last}))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            reason = closed.rcvd.reason if closed.rcvd else ""
            if code == CLOSE_UNAUTHENTICATED:
                if renew:
                    raise AuthError("unauthenticated", reason or "the server refused the renewed token") from None
                refused_now = True
            elif code == CLOSE_ORIGIN:
                raise Forbidden("forbidden", reason or "origin not allowed") from None
            elif code == CLOSE_TOO_BIG:
                raise TaskwireError("payload_too_large", reason or "a frame was larger than 64 KiB") from None
            log.info("taskwire: event stream closed (%s %s); resuming after event %s", code, reason, last)
        except InvalidStatus as refused:
            status = refused.response.status_code
            if status in (401, 403) and not renew:
                refused_now = status == 401
            elif status < 500:
                raise TaskwireError("http_error", f"the WebSocket upgrade was refused with HTTP {status}") from None
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as error:
            log.info("taskwire: event stream unreachable (%s); retrying", error)
        if not reconnect:
            return
        renew = refused_now
        if not refused_now:
            attempt += 1
            await asyncio.sleep(min(max_backoff, 0.1 * 2 ** min(attempt, 10)))
