"""The asyncio twin of :class:`~taskwire.Taskwire`: the same calls, awaited, and an async tracked job."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

import httpx

from . import _session
from .client import _json
from .errors import AuthError, InvalidState, JobCancelled, TaskwireError, from_response
from .events import Event, stream

JSON = dict[str, Any]
log = logging.getLogger("taskwire")


class AsyncTaskwire:
    """A taskwire server for asyncio code: ``async with AsyncTaskwire(url, token=...) as tw: await tw.me()``."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if token is None and refresh_token is None and (username is None or password is None):
            raise ValueError("give username and password, or token")
        self.url = url.rstrip("/")
        self._creds = _session.Credentials(
            username=username, password=password, access_token=token, refresh_token=refresh_token
        )
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTaskwire:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _send(
        self, method: str, path: str, json: Any = None, params: Any = None, token: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self._http.request(method, path, json=json, params=params, headers=headers)
        if response.is_success and (response.status_code == 204 or not response.content):
            return None
        body = _json(response)
        if not response.is_success:
            raise from_response(response.status_code, body, response.headers)
        return body

    async def login(self) -> JSON:
        """Signs in with the username and password; returns the signed-in user."""
        if not self._creds.can_login:
            raise AuthError("unauthenticated", "no username and password to sign in with")
        answer = await self._send("POST", "/api/auth/login", json=self._creds.login_body())
        self._creds.store(answer)
        return answer["user"]

    async def token(self, renew: bool = False) -> str:
        """A current access token, signing in or refreshing first when needed (or when ``renew``)."""
        async with self._lock:
            if renew or self._creds.needs_token():
                await self._renew(self._creds.generation)
            assert self._creds.access_token is not None
            return self._creds.access_token

    async def _renew(self, seen: int) -> None:
        creds = self._creds
        if creds.generation != seen:
            return
        if creds.refresh_token:
            try:
                answer = await self._send("POST", "/api/auth/refresh", json={"refresh_token": creds.refresh_token})
                creds.store(answer)
                return
            except AuthError:
                creds.refresh_token = None
                if not creds.can_login:
                    raise
        if not creds.can_login:
            raise AuthError("unauthenticated", "the access token was refused and cannot be renewed")
        await self.login()

    async def request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        """One authenticated API call; renews the token once if the server refuses it."""
        token = await self.token()
        try:
            return await self._send(method, path, json=json, params=params, token=token)
        except AuthError:
            if not self._creds.can_renew:
                raise
            async with self._lock:
                if self._creds.access_token == token:
                    await self._renew(self._creds.generation)
            return await self._send(method, path, json=json, params=params, token=await self.token())

    async def me(self) -> JSON:
        """``GET /api/me``."""
        return await self.request("GET", "/api/me")

    async def list_tasks(
        self,
        *,
        status: str | None = None,
        q: str | None = None,
        workflow: str | None = None,
        assignee: int | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> JSON:
        """``GET /api/tasks``, filtered like :meth:`taskwire.Taskwire.list_tasks`."""
        return await self.request("GET", "/api/tasks", params=_session.clean(locals() | {"self": None}))

    async def get_task(self, task_id: int) -> JSON:
        """``GET /api/tasks/{id}``."""
        return await self.request("GET", f"/api/tasks/{task_id}")

    async def create_task(
        self, title: str, workflow: str, *, description: str | None = None, assignee: int | None = None
    ) -> JSON:
        """``POST /api/tasks``."""
        body = _session.clean({"title": title, "workflow": workflow, "description": description, "assignee": assignee})
        return await self.request("POST", "/api/tasks", json=body)

    async def approve_task(self, task_id: int) -> JSON:
        """``POST /api/tasks/{id}/approve``."""
        return await self.request("POST", f"/api/tasks/{task_id}/approve")

    async def reject_task(self, task_id: int, reason: str) -> JSON:
        """``POST /api/tasks/{id}/reject``."""
        return await self.request("POST", f"/api/tasks/{task_id}/reject", json={"reason": reason})

    async def complete_subtask(self, task_id: int, subtask_id: int) -> JSON:
        """``POST /api/tasks/{id}/subtasks/{sid}/complete``."""
        return await self.request("POST", f"/api/tasks/{task_id}/subtasks/{subtask_id}/complete")

    async def list_jobs(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        scope: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> JSON:
        """``GET /api/jobs``."""
        return await self.request("GET", "/api/jobs", params=_session.clean(locals() | {"self": None}))

    async def get_job(self, job_id: int) -> JSON:
        """``GET /api/jobs/{id}``."""
        return await self.request("GET", f"/api/jobs/{job_id}")

    async def job_stats(self) -> JSON:
        """``GET /api/jobs/stats``."""
        return await self.request("GET", "/api/jobs/stats")

    async def create_job(
        self, kind: str, name: str, *, total: int = 0, scope: str | None = None, exclusive: bool = False
    ) -> JSON:
        """``POST /api/jobs``. Prefer :meth:`job`."""
        body = _session.clean(
            {"kind": kind, "name": name, "scope": scope, "items_total": total, "exclusive": exclusive}
        )
        return await self.request("POST", "/api/jobs", json=body)

    async def report_progress(
        self,
        job_id: int,
        *,
        processed: int | None = None,
        failed: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> JSON:
        """``POST /api/jobs/{id}/progress`` with absolute figures."""
        body = _session.clean(
            {"items_processed": processed, "items_failed": failed, "items_total": total, "message": message}
        )
        return await self.request("POST", f"/api/jobs/{job_id}/progress", json=body)

    async def finish_job(
        self, job_id: int, status: str, *, message: str | None = None, error_message: str | None = None
    ) -> JSON:
        """``POST /api/jobs/{id}/finish``."""
        body = _session.clean({"status": status, "message": message, "error_message": error_message})
        return await self.request("POST", f"/api/jobs/{job_id}/finish", json=body)

    async def cancel_job(self, job_id: int) -> JSON:
        """``POST /api/jobs/{id}/cancel``."""
        return await self.request("POST", f"/api/jobs/{job_id}/cancel")

    async def retry_job(self, job_id: int) -> JSON:
        """``POST /api/jobs/{id}/retry``: starts a failed or cancelled scrape or import again; the new job."""
        return await self.request("POST", f"/api/jobs/{job_id}/retry")

    async def delete_job(self, job_id: int) -> None:
        """``DELETE /api/jobs/{id}``."""
        await self.request("DELETE", f"/api/jobs/{job_id}")

    def job(
        self,
        kind: str,
        name: str,
        *,
        total: int = 0,
        scope: str | None = None,
        exclusive: bool = False,
        interval: float = 0.2,
    ) -> AsyncJob:
        """A tracked job: ``async with tw.job("export", "Export", total=100) as job: await job.advance()``."""
        return AsyncJob(self, kind, name, total=total, scope=scope, exclusive=exclusive, interval=interval)

    async def create_order(
        self, product: str, package: str, user_identifier: str, *, extra_field: str | None = None
    ) -> JSON:
        """``POST /api/orders``."""
        body = _session.clean(
            {"product": product, "package": package, "user_identifier": user_identifier, "extra_field": extra_field}
        )
        return await self.request("POST", "/api/orders", json=body)

    async def list_orders(
        self, *, status: str | None = None, limit: int | None = None, before: int | None = None
    ) -> JSON:
        """``GET /api/orders``."""
        return await self.request("GET", "/api/orders", params=_session.clean(locals() | {"self": None}))

    async def get_order(self, order_id: int) -> JSON:
        """``GET /api/orders/{id}``."""
        return await self.request("GET", f"/api/orders/{order_id}")

    async def check_order(self, order_id: int) -> JSON:
        """``POST /api/orders/{id}/check``."""
        return await self.request("POST", f"/api/orders/{order_id}/check")

    def events(
        self, channels: Iterable[str], *, since: int | None = None, reconnect: bool = True
    ) -> AsyncIterator[Event]:
        """Live events, resuming after dropped connections; see :meth:`taskwire.Taskwire.events`."""
        return stream(_session.ws_url(self.url), self.token, list(channels), since=since, reconnect=reconnect)


class AsyncJob:
    """The async twin of :class:`taskwire.Job`: throttled progress, cancellation, finish on leaving the block."""

    def __init__(
        self,
        client: AsyncTaskwire,
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
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def id(self) -> int:
        """The job's id on the server."""
        return int(self.data["id"])

    @property
    def cancel_requested(self) -> bool:
        """True once the server said an ADMIN asked this job to stop."""
        return self._cancel_requested

    async def start(self) -> AsyncJob:
        """Creates the job on the server; ``async with`` does this for you."""
        self.data = await self.client.create_job(
            self.kind, self.name, total=self.total, scope=self.scope, exclusive=self.exclusive
        )
        self._last_sent = time.monotonic()
        return self

    async def advance(self, n: int = 1, failed: int = 0, message: str | None = None) -> None:
        """Counts ``n`` more handled items; raises :class:`JobCancelled` once a cancel was requested."""
        self.processed += n
        self.failed += failed
        if message is not None:
            self.message = message
        await self._changed()
        self.check_cancelled()

    def check_cancelled(self) -> None:
        """Raises :class:`JobCancelled` if the job was asked to stop."""
        if self._cancel_requested:
            raise JobCancelled(self.id)

    async def _changed(self) -> None:
        self._dirty = True
        wait = self._last_sent + self.interval - time.monotonic()
        if wait <= 0:
            async with self._lock:
                if self._dirty:
                    await self._send()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._later(wait))

    async def _later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._timer = None
        async with self._lock:
            if self._dirty and not self.finished:
                try:
                    await self._send()
                except TaskwireError as exc:
                    log.warning("taskwire: progress of job %s not sent: %s", self.data.get("id"), exc)

    async def _send(self) -> None:
        self._dirty = False
        self._last_sent = time.monotonic()
        try:
            answer = await self.client.report_progress(
                self.id, processed=self.processed, failed=self.failed, total=self.total, message=self.message
            )
        except InvalidState:
            self._cancel_requested = True
            self.finished = True
            return
        self.data = answer
        if answer.get("cancel_requested"):
            self._cancel_requested = True

    async def finish(
        self, status: str = "completed", *, message: str | None = None, error_message: str | None = None
    ) -> None:
        """Sends the last figures, then ends the job."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            if self.finished:
                return
            try:
                if self._dirty:
                    await self._send()
                if self.finished:
                    return
                self.data = await self.client.finish_job(self.id, status, message=message, error_message=error_message)
            except InvalidState:
                pass
            self.finished = True

    async def __aenter__(self) -> AsyncJob:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None:
            await self.finish("completed")
            return False
        if isinstance(exc, JobCancelled):
            await self.finish("cancelled", message=f"stopped after {self.processed} items")
            return True
        await self.finish("failed", error_message=_session.failure_text(exc))
        return False
