"""The synchronous client: REST calls with automatic login and token refresh, and tracked jobs."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx

from . import _session
from .errors import AuthError, TaskwireError, from_response
from .events import Event, stream
from .jobs import Job

JSON = dict[str, Any]


class Taskwire:
    """A taskwire server, reached with an ADMIN's (or any user's) credentials or a ready access token.

    Logs in on first use, refreshes the access token before it expires (and once more
    when the server says it expired), and turns every error answer into a
    :class:`~taskwire.TaskwireError` carrying the API's ``code`` and ``message``.
    Safe to share between threads and across ``fork`` (each process opens its own connections).
    """

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
        self.timeout = timeout
        self._creds = _session.Credentials(
            username=username, password=password, access_token=token, refresh_token=refresh_token
        )
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    # -- plumbing -------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        """This process's HTTP client: a forked child never reuses its parent's sockets."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._http = httpx.Client(base_url=self.url, timeout=self.timeout)
            self._lock = threading.Lock()
            # A refresh token is single-use: two processes refreshing the inherited one would look
            # like a replay and sign the user out everywhere. The child keeps the (stateless) access
            # token and signs in on its own when that expires.
            self._creds.forked()
        return self._http

    def close(self) -> None:
        """Closes the connections (the client cannot be used afterwards)."""
        self._client().close()

    def __enter__(self) -> Taskwire:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, method: str, path: str, json: Any = None, params: Any = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self._client().request(method, path, json=json, params=params, headers=headers)
        if (response.status_code == 204 or not response.content) and response.is_success:
            return None
        body = _json(response)
        if not response.is_success:
            raise from_response(response.status_code, body, response.headers)
        return body

    def login(self) -> JSON:
        """Signs in with the username and password; returns the signed-in user."""
        if not self._creds.can_login:
            raise AuthError("unauthenticated", "no username and password to sign in with")
        answer = self._send("POST", "/api/auth/login", json=self._creds.login_body())
        self._creds.store(answer)
        return answer["user"]

    def token(self, renew: bool = False) -> str:
        """A current access token, signing in or refreshing first when needed (or when ``renew``)."""
        self._client()  # after a fork: fresh connections and lock before anything else
        with self._lock:
            seen = self._creds.generation
            if renew or self._creds.needs_token():
                self._renew(seen)
            assert self._creds.access_token is not None
            return self._creds.access_token

    def _renew(self, seen: int) -> None:
        """Refreshes the pair, or signs in again; a no-op if another thread renewed meanwhile."""
        creds = self._creds
        if creds.generation != seen:
            return
        if creds.refresh_token:
            try:
                creds.store(self._send("POST", "/api/auth/refresh", json={"refresh_token": creds.refresh_token}))
                return
            except AuthError:
                creds.refresh_token = None
                if not creds.can_login:
                    raise
        if not creds.can_login:
            raise AuthError("unauthenticated", "the access token was refused and cannot be renewed")
        self.login()

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        """One authenticated API call; renews the token once if the server refuses it."""
        token = self.token()
        try:
            return self._send(method, path, json=json, params=params, token=token)
        except AuthError:
            if not self._creds.can_renew:
                raise
            with self._lock:
                if self._creds.access_token == token:
                    self._renew(self._creds.generation)
            return self._send(method, path, json=json, params=params, token=self.token())

    # -- account --------------------------------------------------------------------------

    def me(self) -> JSON:
        """``GET /api/me``: the signed-in user."""
        return self.request("GET", "/api/me")

    def logout(self) -> None:
        """Revokes the refresh token held (the access token stays valid until it expires)."""
        if self._creds.refresh_token:
            self._send("POST", "/api/auth/logout", json={"refresh_token": self._creds.refresh_token})
            self._creds.refresh_token = None

    # -- tasks ----------------------------------------------------------------------------

    def list_tasks(
        self,
        *,
        status: str | None = None,
        q: str | None = None,
        workflow: str | None = None,
        assignee: int | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> JSON:
        """``GET /api/tasks``: one page (``items``, ``next_before``), newest first.

        ``q`` matches titles ignoring case; ``workflow`` is a template key; ``assignee`` a user id.
        """
        return self.request("GET", "/api/tasks", params=_session.clean(locals() | {"self": None}))

    def get_task(self, task_id: int) -> JSON:
        """``GET /api/tasks/{id}``."""
        return self.request("GET", f"/api/tasks/{task_id}")

    def create_task(
        self, title: str, workflow: str, *, description: str | None = None, assignee: int | None = None
    ) -> JSON:
        """``POST /api/tasks``: a new task, ``pending_approval``."""
        body = _session.clean({"title": title, "workflow": workflow, "description": description, "assignee": assignee})
        return self.request("POST", "/api/tasks", json=body)

    def approve_task(self, task_id: int) -> JSON:
        """``POST /api/tasks/{id}/approve`` (ADMIN)."""
        return self.request("POST", f"/api/tasks/{task_id}/approve")

    def reject_task(self, task_id: int, reason: str) -> JSON:
        """``POST /api/tasks/{id}/reject`` (ADMIN)."""
        return self.request("POST", f"/api/tasks/{task_id}/reject", json={"reason": reason})

    def complete_subtask(self, task_id: int, subtask_id: int) -> JSON:
        """``POST /api/tasks/{id}/subtasks/{sid}/complete``."""
        return self.request("POST", f"/api/tasks/{task_id}/subtasks/{subtask_id}/complete")

    def list_workflows(self) -> list[JSON]:
        """``GET /api/workflows``."""
        return self.request("GET", "/api/workflows")

    # -- jobs -----------------------------------------------------------------------------

    def list_jobs(
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
        """``GET /api/jobs``: one page of jobs, newest first."""
        return self.request("GET", "/api/jobs", params=_session.clean(locals() | {"self": None}))

    def get_job(self, job_id: int) -> JSON:
        """``GET /api/jobs/{id}``: the job with its latest failures."""
        return self.request("GET", f"/api/jobs/{job_id}")

    def job_stats(self) -> JSON:
        """``GET /api/jobs/stats``."""
        return self.request("GET", "/api/jobs/stats")

    def create_job(
        self, kind: str, name: str, *, total: int = 0, scope: str | None = None, exclusive: bool = False
    ) -> JSON:
        """``POST /api/jobs``: a worker's job, ``running`` at once. Prefer :meth:`job`."""
        body = _session.clean(
            {"kind": kind, "name": name, "scope": scope, "items_total": total, "exclusive": exclusive}
        )
        return self.request("POST", "/api/jobs", json=body)

    def report_progress(
        self,
        job_id: int,
        *,
        processed: int | None = None,
        failed: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> JSON:
        """``POST /api/jobs/{id}/progress`` with absolute figures; the answer carries ``cancel_requested``."""
        body = _session.clean(
            {"items_processed": processed, "items_failed": failed, "items_total": total, "message": message}
        )
        return self.request("POST", f"/api/jobs/{job_id}/progress", json=body)

    def finish_job(
        self, job_id: int, status: str, *, message: str | None = None, error_message: str | None = None
    ) -> JSON:
        """``POST /api/jobs/{id}/finish`` with ``completed``, ``failed`` or ``cancelled``."""
        body = _session.clean({"status": status, "message": message, "error_message": error_message})
        return self.request("POST", f"/api/jobs/{job_id}/finish", json=body)

    def cancel_job(self, job_id: int) -> JSON:
        """``POST /api/jobs/{id}/cancel``: asks a running job to stop."""
        return self.request("POST", f"/api/jobs/{job_id}/cancel")

    def retry_job(self, job_id: int) -> JSON:
        """``POST /api/jobs/{id}/retry``: starts a failed or cancelled scrape or import again; the new job."""
        return self.request("POST", f"/api/jobs/{job_id}/retry")

    def delete_job(self, job_id: int) -> None:
        """``DELETE /api/jobs/{id}``: removes a finished job."""
        self.request("DELETE", f"/api/jobs/{job_id}")

    def job(
        self,
        kind: str,
        name: str,
        *,
        total: int = 0,
        scope: str | None = None,
        exclusive: bool = False,
        interval: float = 0.2,
    ) -> Job:
        """A tracked job: ``with tw.job("export", "Nightly export", total=100) as job: job.advance()``.

        The job is created when the block is entered; progress is sent at most every
        ``interval`` seconds (the last figure always), and leaving the block finishes it.
        """
        return Job(self, kind, name, total=total, scope=scope, exclusive=exclusive, interval=interval)

    # -- orders ---------------------------------------------------------------------------

    def create_order(self, product: str, package: str, user_identifier: str, *, extra_field: str | None = None) -> JSON:
        """``POST /api/orders``: places an order and dispatches it to the provider."""
        body = _session.clean(
            {"product": product, "package": package, "user_identifier": user_identifier, "extra_field": extra_field}
        )
        return self.request("POST", "/api/orders", json=body)

    def list_orders(self, *, status: str | None = None, limit: int | None = None, before: int | None = None) -> JSON:
        """``GET /api/orders``: one page of the orders the caller may see."""
        return self.request("GET", "/api/orders", params=_session.clean(locals() | {"self": None}))

    def get_order(self, order_id: int) -> JSON:
        """``GET /api/orders/{id}``."""
        return self.request("GET", f"/api/orders/{order_id}")

    def check_order(self, order_id: int) -> JSON:
        """``POST /api/orders/{id}/check`` (ADMIN): checks the order with the provider now."""
        return self.request("POST", f"/api/orders/{order_id}/check")

    # -- live events ----------------------------------------------------------------------

    def events(
        self, channels: Iterable[str], *, since: int | None = None, reconnect: bool = True
    ) -> AsyncIterator[Event]:
        """Live events: ``async for event in tw.events(["tasks", "jobs"], since=41)``.

        Replays what came after ``since`` (or what happens from now on), then follows
        live; after a dropped connection it reconnects and resumes after the last event
        received, with no gap and no duplicate.
        """

        async def token(renew: bool) -> str:
            return await asyncio.to_thread(self.token, renew)

        return stream(_session.ws_url(self.url), token, list(channels), since=since, reconnect=reconnect)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        if response.is_success:
            raise TaskwireError("invalid_response", f"the server sent no JSON: {response.text[:200]}") from None
        return None
