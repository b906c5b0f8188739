"""How a step's outcome is written before its ack: a plain result, or a ``Complete`` with
steps, context or skips to add; retried through a database outage (``with_retry``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import oban
from oban import Job
from psycopg import InterfaceError, OperationalError

from . import _branches, _context, _expansion, _oban, store
from ._outcomes import Complete
from .errors import (
    ContextConflict,
    InvalidContext,
    InvalidExpansion,
    InvalidSkip,
    TooManySteps,
)

logger = logging.getLogger("baton")


async def store_plain(
    instance: oban.Oban, job: Job, encoded: str | None, usage: str | None, **options: bool
) -> store.Completion:
    """The write of a plain result (and its usage): one statement."""
    return store.Completion(await store.store_result(instance, job, encoded, usage, **options))


def completion(
    instance: oban.Oban,
    job: Job,
    context: store.StepContext,
    encoded: str | None,
    usage: str | None,
    outcome: Complete,
    unless_cancelled: bool,
) -> Callable[[], Awaitable[store.Completion]]:
    """The write of a ``Complete`` with steps or context to add, checked before it runs.

    A definition that cannot be stored discards the step: the same work would build it
    the same way again.
    """
    try:
        expansion: store.Addition | None = None
        added: dict[str, Any] = {}
        if outcome.add is not None:
            expansion, added = _expansion.plan(outcome.add, context.name, context.workflow_id)
        where = f"step {context.name!r}"
        values = _context.merge(added, _context.check(outcome.context or {}, where), where)
        skip = None if outcome.skip is None else _branches.request(outcome.skip, context.name)
    except (InvalidExpansion, InvalidContext, InvalidSkip):
        _oban.discard_now(job)
        raise

    async def write() -> store.Completion:
        try:
            return await _expansion.complete(
                instance,
                job,
                encoded,
                usage,
                expansion,
                values,
                unless_cancelled=unless_cancelled,
                skip=skip,
            )
        except (ContextConflict, InvalidSkip, TooManySteps):
            _oban.discard_now(job)
            raise

    return write


async def with_retry(
    job: Job, write: Callable[[], Awaitable[store.Completion]], patience: float
) -> store.Completion:
    """Store the result, retrying through a database outage for up to ``patience`` s."""
    deadline = time.monotonic() + patience
    delay = 0.1
    while True:
        try:
            return await write()
        except (OperationalError, InterfaceError) as error:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "job %s: cannot store its result yet (%s); retrying in %.1fs",
                job.id,
                str(error).strip().splitlines()[0] if str(error).strip() else error,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


__all__: Sequence[str] = ["completion", "store_plain", "with_retry"]
