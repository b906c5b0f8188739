"""Workers under a rate limit, for the rate-limit tests (in this process and in workers).

``Call`` is an LLM step under the limit ``KEY``: it charges ``args["estimate"]`` tokens
before it runs, records the call (in ``CALLS``, and its start in ``test_limit_calls`` when
a pool was given, as in ``tests.support.worker_proc``), then fails with a provider's 429 when
``args["status"]`` says so (only before its first snooze with ``args["once"]``), or
returns ``args["used"]`` input tokens as its usage.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from oban import Job

import baton

KEY = "test-provider"
QUEUE = "limits"

CALLS_TABLE = """
CREATE TABLE IF NOT EXISTS test_limit_calls (
    workflow_id text NOT NULL,
    step text NOT NULL,
    pid integer NOT NULL,
    at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT timezone('UTC', clock_timestamp())
)
"""

RECORD_CALL = "INSERT INTO test_limit_calls (workflow_id, step, pid, at) VALUES (%s, %s, %s, %s)"

CALLS: Counter[str] = Counter()  # workflow_step → calls in this process

_pool: Any = None


def use_pool(pool: Any) -> None:
    """Record every call in ``test_limit_calls`` through ``pool`` (worker_proc calls it)."""
    global _pool
    _pool = pool


def rate_limited(retry_after: str | None) -> httpx.HTTPStatusError:
    """The error httpx raises for a 429 response, with ``Retry-After`` if given."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    request = httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    response = httpx.Response(429, headers=headers, request=request)
    return httpx.HTTPStatusError("429 Too Many Requests", request=request, response=response)


async def _record(job: Job) -> None:
    """Count the call; with a pool, record when it started (this machine's clock, UTC)."""
    started = datetime.now(UTC).replace(tzinfo=None)  # first: the call starts now
    CALLS[job.meta.get("workflow_step", str(job.id))] += 1
    if _pool is not None:
        meta = job.meta
        params = (meta.get("workflow_id", ""), meta.get("workflow_step", ""), os.getpid(), started)
        async with _pool.connection() as conn, conn.transaction():
            await conn.execute(RECORD_CALL, params)


@baton.llm_worker(queue=QUEUE, limit=KEY, max_attempts=3, timeout=60)
class Call:
    """A call to a provider under the limit ``KEY`` (see the module doc for its args)."""

    def estimate_tokens(self, job: Job) -> Any:
        return job.args.get("estimate", 0)

    async def perform_workflow(self, job: Job) -> Any:
        await _record(job)
        if job.args.get("status") == 429 and not (job.args.get("once") and job.meta.get("snoozed")):
            raise rate_limited(job.args.get("retry_after"))
        if job.args.get("sleep"):
            await asyncio.sleep(job.args["sleep"])
        used = job.args.get("used")
        return {"ok": True, **({"llm_usage": {"input_tokens": used}} if used is not None else {})}


@baton.worker(queue=QUEUE, limit="test-unset")
class Unset:
    """A step naming a limit nobody set: it runs unlimited, with a warning."""

    async def perform_workflow(self, job: Job) -> Any:
        await _record(job)
        return {"ok": True}
