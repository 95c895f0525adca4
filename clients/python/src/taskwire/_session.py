"""Token bookkeeping shared by the sync and async clients: when to log in, refresh, or give up."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

# Renew an access token this many seconds before it expires, so a request never races its expiry.
RENEW_MARGIN = 30.0


@dataclass
class Credentials:
    """What the client knows to authenticate with, and the tokens it holds now."""

    username: str | None = None
    password: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    user: dict[str, Any] | None = None
    generation: int = 0

    @property
    def can_renew(self) -> bool:
        """Whether a rejected or expiring token can be replaced without the caller's help."""
        return bool(self.refresh_token) or self.can_login

    @property
    def can_login(self) -> bool:
        """Whether a username and password were given."""
        return self.username is not None and self.password is not None

    def needs_token(self) -> bool:
        """True when there is no token yet, or the one held is about to expire and can be renewed."""
        if self.access_token is None:
            return True
        return self.expires_at is not None and self.can_renew and time.monotonic() > self.expires_at

    def store(self, answer: dict[str, Any]) -> None:
        """Keeps the pair from a login or refresh answer."""
        self.access_token = answer["access_token"]
        self.refresh_token = answer.get("refresh_token")
        self.expires_at = time.monotonic() + float(answer.get("expires_in", 900)) - RENEW_MARGIN
        self.user = answer.get("user")
        self.generation += 1

    def forked(self) -> None:
        """Forgets the parent's refresh token in a forked child (it must never be used twice)."""
        self.refresh_token = None
        self.generation += 1

    def login_body(self) -> dict[str, str]:
        """The body of ``POST /api/auth/login``."""
        return {"username": self.username or "", "password": self.password or ""}


def ws_url(base_url: str) -> str:
    """The ``/ws`` address for a server's base URL (``http`` becomes ``ws``, ``https`` becomes ``wss``)."""
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://") :] + "/ws"
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://") :] + "/ws"
    return base_url + "/ws"


def clean(body: dict[str, Any]) -> dict[str, Any]:
    """Drops ``None`` values, so optional fields are simply absent."""
    return {key: value for key, value in body.items() if value is not None}


def failure_text(exc: BaseException) -> str:
    """The text a failed job records for an exception: ``ValueError: the feed is down``."""
    text = str(exc)
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:2000]
