"""Server-Sent Events: a snapshot, then events, ended cleanly when the database goes away."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio
import psycopg
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from .._events import (
    Reconnected,
    StepEvent,
    StepOutput,
    StepsAdded,
    Subscription,
    WorkflowEvent,
    WorkflowFinished,
)
from ..errors import SchemaError

RETRY_MS = 1_000  # how soon a browser reconnects a dropped stream
NO_STORE = {"cache-control": "no-store"}
# What a stream meets when its database goes away: a query on a lost connection, no
# connection from the pool in time, no LISTEN in time, or the tables gone.
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError, SchemaError)

logger = logging.getLogger("baton")


def event_data(event: WorkflowEvent) -> tuple[str, dict[str, Any]]:
    """The SSE event name and JSON data of a workflow's event."""
    if isinstance(event, StepOutput):  # streamed text: live only, never in a snapshot
        return "output", {
            "workflow_id": event.workflow_id,
            "step": event.step,
            "job_id": event.job_id,
            "attempt": event.attempt,
            "seq": event.seq,
            "text": event.text,
            "skipped": event.skipped,
            "at": event.at.isoformat(),
        }
    head = {"workflow_id": event.workflow_id, "workflow_name": event.workflow_name}
    match event:
        case StepEvent():
            return "step", {
                **head,
                "step": event.step,
                "worker": event.worker,
                "state": event.state,
                "job_id": event.job_id,
                "attempt": event.attempt,
                "result_stored": event.result_stored,
                "cached": event.cached,
                "error": event.error,
                "at": event.at.isoformat(),
            }
        case StepsAdded():
            return "added", {
                **head,
                "step": event.step,
                "count": event.count,
                "steps": list(event.steps),
                "at": event.at.isoformat(),
            }
        case WorkflowFinished():
            return "finished", {
                **head,
                "outcome": event.outcome,
                "reason": event.reason,
                "failed_steps": list(event.failed_steps),
                "failed_count": event.failed_count,
                "duration_ms": event.duration_ms,
                "at": event.at.isoformat(),
            }


async def stream(
    events: Subscription,
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
    interval: Callable[[dict[str, Any]], float],
    forward: Callable[[WorkflowEvent], bool],
    stop: anyio.Event,
    refresh: Callable[[WorkflowEvent], bool] = lambda _event: False,
) -> AsyncIterator[ServerSentEvent]:
    """A ``snapshot`` first, then events, with a fresh snapshot ``interval`` after changes.

    The caller subscribed before calling, so nothing is missed between the snapshot and
    the events. A lost listener (``Reconnected``) or dropped events give a fresh snapshot
    at once, and so does an event ``refresh`` picks (after it is forwarded): steps added
    at run time, say, which no earlier snapshot holds. A client that reconnects (with or
    without ``Last-Event-ID``) opens a new stream, which starts with a fresh snapshot:
    that is how a stream resumes. The stream ends cleanly when the server shuts down
    (``stop``).
    """
    ids = itertools.count(1)
    loop = asyncio.get_running_loop()
    data = await snapshot()
    yield ServerSentEvent(json.dumps(data), event="snapshot", id=str(next(ids)), retry=RETRY_MS)
    dropped = events.dropped
    due: float | None = None
    stopping = asyncio.ensure_future(stop.wait())
    reading: asyncio.Future[Any] | None = None
    try:
        while True:
            if reading is None:
                reading = asyncio.ensure_future(anext(events))
            timeout = None if due is None else max(0.0, due - loop.time())
            done, _ = await asyncio.wait(
                {reading, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if stopping in done:
                return
            event: Any = None
            if reading in done:
                event, reading = reading.result(), None
            if event is None or isinstance(event, Reconnected) or events.dropped != dropped:
                dropped, due = events.dropped, None
                data = await snapshot()
                yield ServerSentEvent(json.dumps(data), event="snapshot", id=str(next(ids)))
                continue
            if forward(event):
                kind, payload = event_data(event)
                yield ServerSentEvent(json.dumps(payload), event=kind, id=str(next(ids)))
            if isinstance(event, StepOutput):
                continue  # output changes nothing a snapshot holds
            if refresh(event):
                due = None
                data = await snapshot()
                yield ServerSentEvent(json.dumps(data), event="snapshot", id=str(next(ids)))
                continue
            if due is None:
                due = loop.time() + interval(data)
    finally:
        for task in (reading, stopping):
            if task is not None:
                task.cancel()


def event_source(content: Callable[[anyio.Event], AsyncGenerator[ServerSentEvent]]) -> Response:
    """A streaming response of ``content``, stopped when the server shuts down."""
    stop = anyio.Event()
    return EventSourceResponse(
        _ended_cleanly(content(stop)),
        headers=NO_STORE,
        shutdown_event=stop,
        shutdown_grace_period=2,
    )


async def _ended_cleanly(
    messages: AsyncGenerator[ServerSentEvent],
) -> AsyncIterator[ServerSentEvent]:
    """``messages``, then an ``unavailable`` event and the end if the database goes away.

    The browser's ``EventSource`` reconnects by itself; the new stream starts with a
    snapshot once the database is back (until then it is refused with a 503).
    """
    async with aclosing(messages):
        try:
            async for message in messages:
                yield message
        except UNAVAILABLE as error:
            logger.warning(
                "a web view stream ended: the database is unavailable (%s)", type(error).__name__
            )
            data = {"error": "the database is unavailable; the page reconnects when it is back"}
            yield ServerSentEvent(json.dumps(data), event="unavailable")
