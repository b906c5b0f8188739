"""The ``captured_calls`` and ``budget`` scenarios: what capturing a call, and charging a
step's usage to a budget, add to a step.

Each runs single-step workflows in this process (``oban.testing.drain_queue``: the worker
path and its writes, no producer between them), alternating rounds of the two variants on
the same machine, and reports the median milliseconds per step of each and their ratio:

- ``captured_calls``: a step that passes a realistic call (a 2 KB chat request, a 1 KB
  response) to ``baton.capture``, its workflow with ``capture=True``, against the same step
  with capture off (``baton.capture`` returns at once);
- ``budget``: a step reporting ``llm_usage`` in a workflow with ``budget_usd`` (its usage
  charged under the workflow's row lock), against the same step in a workflow without one.
"""

from __future__ import annotations

import time
from typing import Any

from oban import Job
from oban.testing import drain_queue

import baton
from baton import Workflow
from benchmarks import db, stats
from benchmarks.common import Bench

QUEUE = "bench_llm_ops"
MESSAGES = [
    {"role": "system", "content": "You summarise documents for engineers. " * 10},
    {"role": "user", "content": "Summarise the following text. " + "lorem ipsum " * 120},
]
RESPONSE = {
    "id": "chatcmpl-bench",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A summary. " * 80}}],
    "usage": {"prompt_tokens": 600, "completion_tokens": 200},
}
USAGE = {"model": "gpt-4o-mini", "input_tokens": 600, "output_tokens": 200}


@baton.worker(queue=QUEUE)
class CapturingStep:
    """Captures one call (kept only when its workflow has ``capture=True``)."""

    async def perform_workflow(self, job: Job) -> Any:
        request = {
            "model": "gpt-4o-mini",
            "messages": MESSAGES,
            "headers": {"Authorization": "Bearer sk-bench-0123456789"},
        }
        baton.capture(job, request=request, response=RESPONSE)
        return {"summary": "ok"}


@baton.worker(queue=QUEUE)
class ReportingStep:
    """Reports usage (charged only when its workflow has a budget)."""

    async def perform_workflow(self, _job: Job) -> Any:
        return {"summary": "ok", "llm_usage": USAGE}


async def _round(b: Bench, worker: Any, count: int, **options: Any) -> float:
    """Seconds per step to run ``count`` single-step workflows of ``worker``."""
    for _ in range(count):
        await (
            Workflow(name="bench-llm-ops", **options)
            .add("only", worker.new())
            .insert(oban=b.client)
        )
    started = time.perf_counter()
    done = await drain_queue(queue=QUEUE, oban=b.client)
    elapsed = time.perf_counter() - started
    if done.get("completed") != count:
        raise RuntimeError(f"expected {count} completed steps, drained {done}")
    await db.reset(b.conn)
    return elapsed / count


async def _compare(
    b: Bench, label: str, worker: Any, on: dict[str, Any], off: dict[str, Any]
) -> dict[str, Any]:
    count = max(50, b.sizes.chain)
    await _round(b, worker, 10, **on)  # warm-up: prepared plans, imports
    await _round(b, worker, 10, **off)
    with_it: list[float] = []
    without: list[float] = []
    for round_ in range(b.repeat):
        with_it.append(await _round(b, worker, count, **on))
        without.append(await _round(b, worker, count, **off))
        b.say(
            f"{label} round {round_ + 1}/{b.repeat}: {stats.fmt_ms(with_it[-1])} per step, "
            f"{stats.fmt_ms(without[-1])} without"
        )
    on_p50, off_p50 = stats.median(with_it), stats.median(without)
    ratio = on_p50 / off_p50 if on_p50 is not None and off_p50 else None
    return {
        "steps": count,
        "per_step_with": with_it,
        "per_step_without": without,
        "summary": {"with": on_p50, "without": off_p50, "ratio": ratio},
    }


async def captured_calls(b: Bench) -> dict[str, Any]:
    """A step capturing one call, against the same step with capture off."""
    return await _compare(b, "captured_calls", CapturingStep, {"capture": True}, {"capture": False})


async def budget(b: Bench) -> dict[str, Any]:
    """A step's usage charged to a budget, against the same usage in an unbudgeted workflow."""
    return await _compare(b, "budget", ReportingStep, {"budget_usd": 1_000_000}, {})
