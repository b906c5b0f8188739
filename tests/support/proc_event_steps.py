"""Workers for the multi-process event tests (``tests/integration/test_multiprocess_events.py``).

Module-level so that a ``tests.support.worker_proc`` subprocess resolves them by name
(Oban imports a worker's module on first use). They need no connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from oban import Job

import baton

CANCEL_REASON = "cancelled by the test"

logger = logging.getLogger("proc_event_steps")


@baton.worker(queue="default", max_attempts=1, interruptible=False)
class Sleeper:
    """A stuck step: runs for ``seconds`` unless cancelled, checking ``job.cancelled()``
    (it opted out of being interrupted, to test Oban's cooperative cancel).

    On Oban's cancellation signal it returns ``Cancel``, so its process acks it cancelled.
    Left alone it completes, which a test expecting a cancellation would notice.
    """

    async def perform_workflow(self, job: Job) -> Any:
        logger.info("job %s: sleeping until cancelled", job.id)
        deadline = time.monotonic() + float(job.args.get("seconds", 120))
        while time.monotonic() < deadline:
            if job.cancelled():
                logger.info("job %s: cancelled", job.id)
                return baton.Cancel(CANCEL_REASON)
            await asyncio.sleep(0.05)
        logger.info("job %s: slept without being cancelled", job.id)
        return {"slept": True}


@baton.worker(queue="parked", max_attempts=1)
class Parked:
    """A step in a queue no worker process runs: once activated it waits, ``available``."""

    async def perform_workflow(self, job: Job) -> Any:
        return {"ran": True}
