"""A Celery app whose tasks show live progress on taskwire's /jobs page.

pip install ./clients/python "celery[redis]"
TASKWIRE_URL=http://127.0.0.1:8080 celery -A celery_worker worker --loglevel=INFO   # in this folder
python -c "import celery_worker; celery_worker.import_prices.delay(300)"             # then watch /jobs
"""

import os
import random
import time

from celery import Celery

import taskwire.celery
from taskwire import Taskwire
from taskwire.celery import report_progress

app = Celery("celery_worker", broker=os.environ.get("CELERY_BROKER", "redis://127.0.0.1:6379/14"))
app.conf.result_backend = app.conf.broker_url

tw = Taskwire(
    os.environ.get("TASKWIRE_URL", "http://127.0.0.1:8080"),
    username=os.environ.get("TASKWIRE_USER", "admin"),
    password=os.environ.get("TASKWIRE_PASSWORD", "admin-demo"),
)
taskwire.celery.install(app, tw)  # every task of this app becomes a job


@app.task
def import_prices(rows: int = 300, delay: float = 0.05) -> int:
    """Pretends to import a supplier's price list, one row at a time; a few rows are bad."""
    bad = 0
    for row in range(1, rows + 1):
        time.sleep(delay)
        if random.random() < 0.03:
            bad += 1
        report_progress(row, rows, failed=bad, message=f"imported row {row} of {rows}")
    return rows - bad
