"""Baton's telemetry events, and a default logger to attach, in Oban's style.

Every event a process receives through ``baton.subscribe`` (or ``baton.telemetry.relay``)
is executed as an Oban telemetry event in that process, with the event object as
``metadata["event"]``:

- ``baton.step.executing``, ``.snoozed``, ``.completed``, ``.retryable``, ``.discarded``,
  ``.cancelled``, ``.deleted``, ``.skipped`` — a ``baton.StepEvent``;
- ``baton.workflow.steps_added`` — a ``baton.StepsAdded`` (a running step added steps);
- ``baton.workflow.finished`` — a ``baton.WorkflowFinished``;
- ``baton.step.output`` — a ``baton.StepOutput`` (streamed text; the default logger
  leaves it out).

Besides, the node that enforces a workflow's deadline executes ``baton.workflow.deadline``
there, with ``metadata["workflow_id"]`` and ``metadata["cancelled"]`` (see
``docs/deadlines.md``); the default logger does not log it (the finished event that
follows carries ``reason="deadline"``).

The database sends a workflow's events only while someone subscribes to it (or to
``workflow:all``), so with nobody subscribed there is no Baton telemetry; ``relay()``
subscribes to ``workflow:all`` and so keeps every event flowing.

Example:
    >>> import logging, baton
    >>> baton.telemetry.attach_default_logger(level=logging.INFO)
    >>> async with baton.telemetry.relay():   # keep events flowing in this process
    ...     await serve_forever()
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from oban import Oban, telemetry

from ._events import StepEvent, StepsAdded, WorkflowFinished, subscribe

STEP_STATES = (
    "executing",
    "snoozed",
    "completed",
    "retryable",
    "discarded",
    "cancelled",
    "deleted",
    "skipped",
)
EVENTS = [
    *(f"baton.step.{state}" for state in STEP_STATES),
    "baton.workflow.steps_added",
    "baton.workflow.finished",
]
HANDLER_ID = "baton-default-logger"

# Inside JSON strings these stand for themselves; escaping them keeps a logged line one
# line for any reader (str.splitlines() breaks at U+2028, U+2029 and NEL too) and inert
# in an HTML log viewer, whatever the names and error texts hold.
_LOG_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\x85": "\\u0085",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def _log_line(fields: dict[str, Any]) -> str:
    """``fields`` as one line of JSON, with markup and line-breaking characters escaped."""
    return json.dumps(fields, default=str, ensure_ascii=False).translate(_LOG_ESCAPES)


def _handler(logger: logging.Logger, level: int) -> Any:
    def handle(name: str, metadata: dict[str, Any]) -> None:
        event = metadata.get("event")
        if not isinstance(event, StepEvent | StepsAdded | WorkflowFinished):
            return
        fields = dataclasses.asdict(event)
        fields["at"] = event.at.isoformat()
        fields = {"event": name, "source": "baton", **fields}
        failed = name in ("baton.step.discarded", "baton.step.retryable") or (
            isinstance(event, WorkflowFinished) and event.outcome == "failed"
        )
        logger.log(
            max(level, logging.WARNING) if failed else level,
            _log_line(fields),
        )

    return handle


def attach_default_logger(level: int = logging.INFO, logger: logging.Logger | None = None) -> None:
    """Log every Baton event as one JSON line (failures at WARNING or above)."""
    telemetry.attach(HANDLER_ID, EVENTS, _handler(logger or logging.getLogger("baton"), level))


def detach_default_logger() -> None:
    """Stop the default logger."""
    telemetry.detach(HANDLER_ID)


@contextlib.asynccontextmanager
async def relay(
    *, oban: Oban | str | None = None, dsn: str | None = None, prefix: str = "public"
) -> AsyncIterator[None]:
    """Receive every workflow's events in this process, so they become telemetry here."""
    async with subscribe(None, oban=oban, dsn=dsn, prefix=prefix, maxsize=1):
        yield
