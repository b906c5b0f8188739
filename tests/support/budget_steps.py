"""Workers for the tests of budgets and captured calls (``test_budgets.py``,
``test_multiprocess_budgets.py``, ``test_captured_calls.py``); imported by the tests and
by ``worker_proc``.

Their usage is priced by ``PRICES``: a token of ``budget-model`` costs exactly $0.01, so
a step reporting ``tokens`` input tokens costs ``tokens / 100`` dollars.
"""

from __future__ import annotations

import asyncio
import os
import random
from decimal import Decimal
from typing import Any

from oban import Job

import baton

PRICES = baton.PriceTable({"budget-model": baton.Rates(input=Decimal(10_000), output=Decimal(0))})


def spent(job: Job) -> dict[str, Any]:
    """The usage a step reports: ``tokens`` input tokens of ``model`` (budget-model)."""
    return {
        "model": job.args.get("model", "budget-model"),
        "input_tokens": int(job.args.get("tokens", 10)),
        "output_tokens": 0,
    }


@baton.worker(queue="default", max_attempts=1, pricing=PRICES)
class Spends:
    """Waits ``pause`` seconds (at random up to it with ``jitter``), then reports usage."""

    async def perform_workflow(self, job: Job) -> Any:
        pause = float(job.args.get("pause", 0))
        if job.args.get("jitter"):
            pause *= random.random()  # noqa: S311 - test timing, not security
        if pause:
            await asyncio.sleep(pause)
        return {"pid": os.getpid(), "llm_usage": spent(job)}


@baton.worker(queue="default", max_attempts=1, pricing=PRICES)
class Adds:
    """Reports usage and adds ``count`` Spends steps under its own path."""

    async def perform_workflow(self, job: Job) -> Any:
        jobs = [Spends.new({"tokens": 1}) for _ in range(int(job.args["count"]))]
        return baton.Complete({"llm_usage": spent(job)}, add={"more": jobs})


@baton.worker(queue="default", max_attempts=1)
class AddsBudgeted:
    """Adds a workflow that carries a budget of its own (refused: it would not apply)."""

    async def perform_workflow(self, job: Job) -> Any:
        more = baton.Workflow(name="more", budget_usd=1).add("x", Spends.new())
        return baton.Complete(None, add=more)


async def call_and_capture(job: Job) -> Any:
    """Capture ``calls`` calls of a fake model; fail the first ``fail`` attempts."""
    for index in range(int(job.args.get("calls", 1))):
        request = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": job.args.get("prompt", "hi")}],
            "headers": {"Authorization": "Bearer sk-secret-123", "X-Trace": "t1"},
            "api_key": "sk-live-abcdef",
            "attempt": job.attempt,
            "index": index,
        }
        response = {"id": f"resp-{job.attempt}-{index}", "text": job.args.get("reply", "ok")}
        baton.capture(job, request=request, response=response)
    if job.attempt <= int(job.args.get("fail", 0)):
        raise RuntimeError(f"attempt {job.attempt} fails on purpose")
    return {"done": True}


@baton.worker(queue="default", max_attempts=3)
class Captures:
    """Captures its calls when its workflow or the process says so."""

    async def perform_workflow(self, job: Job) -> Any:
        return await call_and_capture(job)


@baton.worker(queue="default", max_attempts=3, capture=True)
class CapturesAlways:
    """Captures its calls: ``capture=True`` on the worker."""

    async def perform_workflow(self, job: Job) -> Any:
        return await call_and_capture(job)
