"""The Celery peer: no-op tasks, Redis as broker and result backend.

The worker is started by the driver (``benchmarks.procs.CeleryWorker``) as::

    celery -A benchmarks.celery_app worker --pool=threads --concurrency=10 -Q bench_threads
    celery -A benchmarks.celery_app worker --pool=prefork --concurrency=2 -Q bench_prefork

Each task returns ``[start, end]`` (``time.time()`` when its body starts and ends) as its
result, which the Redis backend stores anyway; the driver reads the results' keys
directly (``celery-task-meta-<id>``) instead of polling with ``AsyncResult.get()``.
``BENCH_REDIS_URL`` selects the Redis database (default ``redis://127.0.0.1:6379/9``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")

app = Celery("bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    result_expires=3600,
    task_default_queue="bench_threads",
)


@app.task(name="bench.step")
def step(*_previous: Any) -> list[float]:
    """A no-op; ignores a result handed to it (chains use immutable signatures)."""
    start = time.time()
    return [start, time.time()]


@app.task(name="bench.join")
def join(results: list[Any]) -> list[float]:
    """A chord body: receives every header result, as Baton's join reads its group's."""
    start = time.time()
    _ = len(results)
    return [start, time.time()]
