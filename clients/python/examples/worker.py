"""The reference worker of examples/worker.py, written with the taskwire package.

    pip install ./clients/python
    TASKWIRE_URL=http://127.0.0.1:8080 TASKWIRE_USER=admin TASKWIRE_PASSWORD=admin-demo \
        python clients/python/examples/worker.py

Optional: WORKER_ITEMS (default 50), WORKER_DELAY seconds per item (default 0.2),
WORKER_KIND / WORKER_NAME / WORKER_SCOPE. Cancel it on /jobs and it stops.
"""

import os
import time

from taskwire import Taskwire

tw = Taskwire(
    os.environ.get("TASKWIRE_URL", "http://127.0.0.1:8080"),
    username=os.environ.get("TASKWIRE_USER", "admin"),
    password=os.environ.get("TASKWIRE_PASSWORD", "admin-demo"),
)
items = int(os.environ.get("WORKER_ITEMS", "50"))
delay = float(os.environ.get("WORKER_DELAY", "0.2"))
kind = os.environ.get("WORKER_KIND", "example_export")
name = os.environ.get("WORKER_NAME", "Example export")

with tw.job(kind, name, total=items, scope=os.environ.get("WORKER_SCOPE") or None) as job:
    for item in range(1, items + 1):
        time.sleep(delay)  # the real work on one item goes here
        job.advance(failed=1 if item % 17 == 0 else 0, message=f"exported item {item} of {items}")
print(f"job {job.id} {'cancelled after ' + str(job.processed) + ' items' if job.cancel_requested else 'completed'}")
