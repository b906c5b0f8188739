"""Workers for the event, LLM, usage, control and testing-helper tests.

Module-level so that Oban resolves them by name. Calls are counted per
``(workflow_id, step)`` in ``CALLS`` so tests can prove that a step did (not) run again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import oban
import psycopg
from oban._executor import Executor
from oban.testing import drain_queue

import baton

CALLS: Counter[tuple[str, str]] = Counter()
DEP_CALLBACKS: list[tuple[str, str, str, str]] = []  # (workflow, step, callback, reason)
FAIL_WHILE: set[str] = set()  # workflow ids whose Flaky steps still fail


def _count(job: Any) -> None:
    CALLS[(job.meta.get("workflow_id", ""), job.meta.get("workflow_step", ""))] += 1


def calls(workflow_id: str, step: str) -> int:
    return CALLS[(workflow_id, step)]


@baton.worker(queue="default", max_attempts=3)
class Quick:
    """Returns its ``value`` arg (None without one)."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return job.args.get("value")


@baton.worker(queue="other")
class OtherQueue:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return job.args.get("value")


@baton.worker(queue="default", max_attempts=2)
class Failing:
    """Raises ``RuntimeError(message)`` on every attempt (2 attempts)."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        raise RuntimeError(job.args.get("message", "boom"))


@baton.worker(queue="default", max_attempts=1)
class Chained:
    """Raises ``RuntimeError("outer")`` from a ``ValueError("inner")`` (one attempt)."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        try:
            raise ValueError("inner")
        except ValueError as error:
            raise RuntimeError("outer") from error


@baton.worker(queue="default", max_attempts=1)
class Flaky:
    """Fails (one attempt) while its workflow id is in ``FAIL_WHILE``, else returns ``ok``."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        if job.meta["workflow_id"] in FAIL_WHILE:
            raise RuntimeError("upstream API down")
        return {"ok": job.args.get("value", True)}


@baton.worker(queue="default", max_attempts=3)
class FailOnce:
    """Fails its first attempt, then returns ``value``."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        if job.attempt == 1:
            raise RuntimeError("first attempt fails")
        return job.args.get("value")


@baton.worker(queue="default")
class SnoozeOnce:
    """Snoozes its first run (no attempt used), then returns ``value``."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        if not job.meta.get("snoozed"):
            return baton.Snooze(30)
        return job.args.get("value")


@baton.worker(queue="default")
class Returns:
    """Returns the outcome named by its ``outcome`` arg, with an optional ``reason``."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        reason = job.args.get("reason", "")
        match job.args["outcome"]:
            case "cancel":
                return baton.Cancel(reason)
            case "discard":
                return baton.Discard(reason)
            case "error":
                return baton.Error(reason)
            case "value":
                return job.args.get("value")
        raise AssertionError(job.args)


@baton.worker(queue="default")
class Unstorable:
    """Returns a set, which is not JSON."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return {"tags": {"a", "b"}}


@baton.worker(queue="default")
class ReadsName:
    """Returns the result of ``args["name"]`` (Oban's default 20 attempts)."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return await baton.get_result(job, job.args["name"])


@baton.worker(queue="default")
class Reads:
    """Returns every dep's result; records dep callbacks."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return await baton.get_all_results(job)

    async def on_dep_cancelled(self, reason: str, job: Any) -> None:
        DEP_CALLBACKS.append(
            (job.meta["workflow_id"], job.meta["workflow_step"], "cancelled", reason)
        )

    async def on_dep_discarded(self, reason: str, job: Any) -> None:
        DEP_CALLBACKS.append(
            (job.meta["workflow_id"], job.meta["workflow_step"], "discarded", reason)
        )


@baton.worker(queue="default", interruptible=False)
class WaitsForCancel:
    """Runs until Oban signals its cancellation, then returns ``Cancel`` (cooperatively: it
    opted out of being interrupted)."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        async with asyncio.timeout(60):
            while not job.cancelled():
                await asyncio.sleep(0.01)
        return baton.Cancel("stopped on request")


@oban.worker(queue="default")
class Plain:
    """A plain Oban worker used as a step (no dep check of its own)."""

    async def process(self, job: Any) -> None:
        _count(job)


# --- LLM steps -----------------------------------------------------------------------------


@baton.llm_worker
class LLMDefaults:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return job.args.get("value")


@baton.llm_worker(queue="other", max_attempts=2, priority=3, tags=["llm"], timeout=None)
class LLMOverridden:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return job.args.get("value")


@baton.llm_worker(timeout=0.2)
class SlowFirst:
    """Sleeps ``sleep`` seconds on attempt 1 (past its 0.2 s timeout), then returns ``done``."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        if job.attempt == 1:
            await asyncio.sleep(job.args.get("sleep", 30))
        return "done"


@baton.llm_worker
class PerJobTimeout:
    """Its timeout comes from the job's ``limit`` arg."""

    def timeout(self, job: Any) -> float:
        return float(job.args["limit"])

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        await asyncio.sleep(job.args["sleep"] if job.attempt == 1 else 0)
        return "done"


@baton.llm_worker(max_attempts=3)
class AlwaysRateLimited:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return baton.Error("429 rate limited")


@baton.llm_worker
class OwnBackoff:
    def backoff(self, job: Any) -> int:
        return 42

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        raise RuntimeError("always")


@baton.llm_worker(backoff_base=100, backoff_max=150)
class CappedBackoff:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        raise RuntimeError("always")


# --- usage ---------------------------------------------------------------------------------


@baton.llm_worker
class ReportsUsage:
    """Returns ``{"text": ..., "llm_usage": <the usage arg>}``."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return {"text": job.args.get("text", "an answer"), "llm_usage": job.args["usage"]}


CUSTOM_TABLE = baton.PriceTable(
    {
        "house-model": baton.Rates(input=Decimal("1"), output=Decimal("2")),
        "house-model-large": baton.Rates(
            input=Decimal("10"), output=Decimal("20"), cache_read=Decimal("0")
        ),
    }
)


@baton.llm_worker(pricing=CUSTOM_TABLE)
class CustomPriced:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return {"text": "priced", "llm_usage": job.args["usage"]}


class PerCall:
    """A ``Pricing`` that is not a PriceTable: a flat fee per call, whatever the model."""

    def cost(self, usage: baton.LLMUsage) -> Decimal | None:
        return Decimal("0.01") + Decimal(usage.output_tokens) / Decimal(1000)


@baton.llm_worker(pricing=PerCall())
class FlatPriced:
    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return {"text": "flat", "llm_usage": job.args["usage"]}


@baton.worker(queue="default")
class PlainWithUsage:
    """A plain ``@baton.worker`` step may report usage too."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        return {"rows": 3, "llm_usage": job.args["usage"]}


GATES: dict[str, asyncio.Event] = {}  # workflow id -> released by the test
STARTED: dict[str, asyncio.Event] = {}  # workflow id -> set when attempt 1 is running


@baton.llm_worker
class HeldFirstAttempt:
    """Attempt 1 waits for ``GATES[workflow]``; each attempt reports ``100 * attempt`` input
    tokens, so the test can tell whose usage was recorded."""

    async def perform_workflow(self, job: Any) -> Any:
        _count(job)
        workflow_id = job.meta["workflow_id"]
        if job.attempt == 1:
            STARTED[workflow_id].set()
            async with asyncio.timeout(60):
                await GATES[workflow_id].wait()
        return {
            "attempt": job.attempt,
            "llm_usage": {"model": "gpt-4o", "input_tokens": 100 * job.attempt},
        }


# --- helpers for following events ----------------------------------------------------------

EVENTS_CHANNEL = "public.baton_events"

type Event = baton.StepEvent | baton.WorkflowFinished | baton.Reconnected


async def drain(instance: oban.Oban, queue: str = "default") -> dict[str, int]:
    """Run every job of ``queue`` in this process (retries and snoozes at once)."""
    return await drain_queue(queue=queue, oban=instance, with_scheduled=True, with_safety=True)


async def send_marker(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> str:
    """Broadcast a marker step event on ``workflow_id``'s topics; returns its step name.

    NOTIFYs arrive in commit order over one listening connection, so once the marker is
    read every event committed before it has been read too: the tests prove that nothing
    else (no duplicate) arrived without sleeping.
    """
    marker = f"marker-{uuid.uuid4().hex}"
    payload = {
        "type": "step",
        "workflow_id": workflow_id,
        "workflow_name": None,
        "step": marker,
        "worker": "marker",
        "state": "marker",
        "job_id": 0,
        "attempt": 0,
        "result_stored": False,
        "cached": False,
        "error": None,
        "at": datetime.now(UTC).isoformat(),
    }
    await conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, json.dumps(payload)))
    return marker


def is_marker(event: Event) -> bool:
    return isinstance(event, baton.StepEvent) and event.state == "marker"


async def read_until(
    events: AsyncIterator[Event], done: Callable[[Event], bool], *, timeout: float = 30.0
) -> list[Event]:
    """Events up to and including the first for which ``done`` is true."""
    seen: list[Event] = []
    async with asyncio.timeout(timeout):
        async for event in events:
            seen.append(event)
            if done(event):
                return seen
    raise AssertionError("the subscription ended")  # pragma: no cover - it never ends


async def follow(
    events: AsyncIterator[Event],
    conn: psycopg.AsyncConnection[Any],
    workflow_id: str,
    *,
    finished: int = 1,
    timeout: float = 30.0,
) -> list[Event]:
    """Every event up to the ``finished``-th WorkflowFinished of ``workflow_id``, then any
    stragglers up to a marker (markers left out)."""
    count = 0

    def last(event: Event) -> bool:
        nonlocal count
        if isinstance(event, baton.WorkflowFinished) and event.workflow_id == workflow_id:
            count += 1
        return count == finished

    seen = await read_until(events, last, timeout=timeout)
    marker = await send_marker(conn, workflow_id)
    seen += await read_until(
        events, lambda e: isinstance(e, baton.StepEvent) and e.step == marker, timeout=timeout
    )
    return [event for event in seen if not is_marker(event)]


async def flush(
    events: AsyncIterator[Event], conn: psycopg.AsyncConnection[Any], workflow_id: str
) -> list[Event]:
    """Every event received so far (up to a marker sent now), markers left out."""
    marker = await send_marker(conn, workflow_id)
    seen = await read_until(events, lambda e: isinstance(e, baton.StepEvent) and e.step == marker)
    return [event for event in seen if not is_marker(event)]


def steps_of(events: list[Event], workflow_id: str | None = None) -> list[tuple[str, str]]:
    """``(step, state)`` of each step event, in order."""
    return [
        (event.step, event.state)
        for event in events
        if isinstance(event, baton.StepEvent)
        and (workflow_id is None or event.workflow_id == workflow_id)
    ]


def finished_of(events: list[Event], workflow_id: str) -> list[baton.WorkflowFinished]:
    return [
        event
        for event in events
        if isinstance(event, baton.WorkflowFinished) and event.workflow_id == workflow_id
    ]


async def lose_the_ack(client: oban.Oban, queue: str = "default") -> Executor:
    """Fetch and run one job through Oban's executor without acking it (a crash after the
    result was stored), then let the lifeline rescue it as it would after ``rescue_after``."""
    [job] = await client._query.fetch_jobs(demand=1, queue=queue, node="lost", uuid="lost")
    executor = await Executor(job=job, safe=True).execute()
    assert executor.status == "completed"
    assert await client._query.rescue_jobs(0.000001) == 1
    return executor
