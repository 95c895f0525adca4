"""The package's example worker, run as a program against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ADMIN, Server

from taskwire import Taskwire

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_example_worker_runs_a_job_to_completion(server: Server) -> None:
    env = os.environ | {
        "TASKWIRE_URL": server.url,
        "TASKWIRE_USER": ADMIN[0],
        "TASKWIRE_PASSWORD": ADMIN[1],
        "WORKER_ITEMS": "34",
        "WORKER_DELAY": "0",
        "WORKER_KIND": "example_package_export",
    }
    run = subprocess.run([sys.executable, str(EXAMPLES / "worker.py")], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("completed")
    tw = Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])
    job = tw.list_jobs(kind="example_package_export")["items"][0]
    assert (job["status"], job["items_processed"], job["items_failed"]) == ("completed", 34, 2)
    assert job["message"] == "exported item 34 of 34"
