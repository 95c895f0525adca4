"""Fixtures: a real ``taskwire serve --demo`` process per test session (and fresh ones on demand)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
BINARY = Path(os.environ.get("TASKWIRE_BIN", REPO / "target" / "debug" / "taskwire")).resolve()
SECRET = "python-client-tests-secret-0123456789abcdef"
ADMIN = ("admin", "admin-demo")
WORKER = ("worker", "worker-demo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``taskwire serve --demo`` process on a free port with its own SQLite file; restartable."""

    def __init__(self, home: Path, secret: str = SECRET) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secret
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"

    def start(self) -> None:
        if not BINARY.exists():
            pytest.fail(f"no taskwire binary at {BINARY}: build it or set TASKWIRE_BIN")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TASKWIRE_BIND": f"127.0.0.1:{self.port}",
            "DATABASE_URL": f"sqlite://{self.home / 'taskwire.db'}?mode=rwc",
            "CATALOG_DIR": str(self.home / "catalog"),
            "JWT_SECRET": self.secret,
            "RUST_LOG": "warn",
            # Every login, successful or not, counts against the per-address limit (4 x this) for
            # 15 minutes, and the tests sign in many times from 127.0.0.1.
            "LOGIN_MAX_FAILURES": "1000",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BINARY), "serve", "--demo"], cwd=self.home, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"taskwire exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        pytest.fail(f"taskwire did not answer /health within 30 s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server most tests use."""
    running = Server(tmp_path_factory.mktemp("taskwire"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for tests that stop and restart it."""
    running = Server(tmp_path)
    running.start()
    yield running
    running.stop()


def mint_token(user_id: int, username: str, role: str, *, expires_in: int, secret: str = SECRET) -> str:
    """An HS256 access token signed like the server's (used to hand the client an expired one)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": str(user_id), "username": username, "role": role, "iat": now - 1000, "exp": now + expires_in}
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Polls ``predicate`` until it returns something truthy; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
