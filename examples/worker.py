#!/usr/bin/env python3
"""An external worker tracked by taskwire: create a job, report progress,
honour cancellation, finish. Any language that speaks HTTP + JSON can do the same.

    TASKWIRE_URL=http://127.0.0.1:8080 TASKWIRE_USER=admin TASKWIRE_PASSWORD=admin-demo \
        python3 examples/worker.py

Optional: WORKER_ITEMS (default 50), WORKER_DELAY seconds per item (default 0.2),
WORKER_KIND / WORKER_NAME / WORKER_SCOPE. Only the standard library is used, so it runs
on any python3; the same worker with the taskwire package (pip install ./clients/python)
is clients/python/examples/worker.py.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("TASKWIRE_URL", "http://127.0.0.1:8080").rstrip("/")
ITEMS = int(os.environ.get("WORKER_ITEMS", "50"))
DELAY = float(os.environ.get("WORKER_DELAY", "0.2"))


def call(method, path, body=None, token=None):
    """One JSON request; raises SystemExit with the server's error message on failure."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read().decode() or "{}").get("error", {})
        sys.exit(f"{method} {path}: {error.code} {detail.get('code')}: {detail.get('message')}")


def main():
    login = call("POST", "/api/auth/login", {
        "username": os.environ.get("TASKWIRE_USER", "admin"),
        "password": os.environ.get("TASKWIRE_PASSWORD", "admin-demo"),
    })
    token = login["access_token"]
    job = call("POST", "/api/jobs", {
        "kind": os.environ.get("WORKER_KIND", "example_export"),
        "name": os.environ.get("WORKER_NAME", "Example export"),
        "scope": os.environ.get("WORKER_SCOPE") or None,
        "items_total": ITEMS,
    }, token)
    job_id = job["id"]
    print(f"job {job_id} started", flush=True)
    failed = 0
    for item in range(1, ITEMS + 1):
        time.sleep(DELAY)  # the real work on one item goes here
        if item % 17 == 0:
            failed += 1  # an item that could not be processed
        job = call("POST", f"/api/jobs/{job_id}/progress", {
            "items_processed": item,
            "items_failed": failed,
            "message": f"exported item {item} of {ITEMS}",
        }, token)
        if job["cancel_requested"]:
            call("POST", f"/api/jobs/{job_id}/finish", {"status": "cancelled", "message": f"stopped after {item} items"}, token)
            print(f"job {job_id} cancelled after {item} items", flush=True)
            return
    call("POST", f"/api/jobs/{job_id}/finish", {"status": "completed", "message": f"exported {ITEMS - failed} items"}, token)
    print(f"job {job_id} completed", flush=True)


if __name__ == "__main__":
    main()
