"""``baton.wait``: a workflow's final status, awaited on its ``WorkflowFinished`` event."""

from __future__ import annotations

import asyncio

from oban import Oban

from . import _oban
from ._control import check_id, status
from ._events import Reconnected, WorkflowFinished, subscribe
from ._status import WorkflowStatus
from .errors import InvalidOption


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidOption(
            f"timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    return float(timeout)


async def wait(
    workflow_id: str, *, timeout: float | None = None, oban: Oban | str | None = None
) -> WorkflowStatus:
    """Wait until every step of a workflow has settled; return its final status.

    Works in any process that reaches the database (it runs no queues), and returns at
    once for a workflow that finished long ago. It subscribes to the workflow's events
    first and reads its status second, so a finish between the two is not missed; then
    it sleeps until the ``WorkflowFinished`` event, with no polling. After a lost
    listening connection (``Reconnected``), or events dropped for a slow reader, it reads
    the status again.

    Pair it with ``baton.results(workflow_id)`` for what the steps returned.

    Args:
        workflow_id: the workflow to wait for.
        timeout: seconds to wait at most; None waits as long as it takes.
        oban: the Oban instance (or its name) whose database to read; default ``"Oban"``.

    Returns:
        The status once the workflow finished: ``state`` is ``completed``, ``failed`` or
        ``cancelled``, and ``finished_at`` is set.

    Raises:
        UnknownWorkflow: no workflow has that id.
        TimeoutError: the workflow had not finished after ``timeout`` seconds (the message
            names it and its state then).
        InvalidOption: ``timeout`` is not a positive number or None.

    Example:
        >>> await wf.insert()
        >>> final = await baton.wait(wf.id, timeout=120)
        >>> if final.state == "completed":
        ...     answer = (await baton.results(wf.id))["summarize"]
    """
    workflow_id = check_id(workflow_id)
    seconds = _check_timeout(timeout)
    instance = _oban.instance(oban)
    current: WorkflowStatus | None = None
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            async with subscribe(workflow_id, oban=instance) as events:
                current = await status(workflow_id, oban=instance)
                dropped = events.dropped
                while current.finished_at is None:
                    event = await anext(events)
                    if (
                        isinstance(event, WorkflowFinished | Reconnected)
                        or events.dropped != dropped
                    ):
                        dropped = events.dropped
                        current = await status(workflow_id, oban=instance)
                return current
    except TimeoutError:
        if not scope.expired():
            raise  # not ours: the LISTEN itself could not be set up in time
        state = "no status read yet" if current is None else f"state {current.state!r}"
        raise TimeoutError(
            f"workflow {workflow_id!r} did not finish within {seconds:g} s ({state})"
        ) from None
