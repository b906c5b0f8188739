"""Completing a step with ``baton.Complete``: steps added at run time, and context.

The worker builds what the step returned into rows (``plan``) before touching the
database, so a bad definition fails the step without writing anything. ``complete`` then
writes the result, the context and the added steps in one transaction under the
workflow's row lock, the lock every settlement of the workflow takes first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from oban import Job, Oban

from . import _budget, _context, _json, store
from .errors import InvalidExpansion, WorkflowError
from .workflow import Workflow, added_steps, encode

logger = logging.getLogger("baton")


def plan(add: object, adder: str, workflow_id: str) -> tuple[store.Addition, dict[str, Any]]:
    """The rows for the steps ``add`` describes, and the context they bring.

    Raises:
        InvalidExpansion: ``add`` is not a Workflow or a dict of jobs, or the steps in it
            are invalid (the message names the step and why).
    """
    where = f"step {adder!r}"
    try:
        sub = _as_workflow(add, where)
        _budget.check_nested(sub.limits, where)
        sub.validate()
        added = added_steps(workflow_id, adder, sub)
        steps, edges = encode(added, frozenset((adder,)))
    except WorkflowError as error:
        raise InvalidExpansion(
            f"{where} returned steps to add that are invalid: {error}"
        ) from error
    return store.Addition(adder, steps, edges, len(added.steps)), sub.context


def _as_workflow(add: object, where: str) -> Workflow:
    if isinstance(add, Workflow):
        return add
    if not isinstance(add, Mapping) or not add:
        raise InvalidExpansion(
            f"{where}: Complete(add=...) takes a Workflow, or a non-empty dict of step name "
            f"to a job or a list of jobs; got {add!r:.200}"
        )
    sub = Workflow(name=where)
    for name, item in add.items():
        if isinstance(item, Job):
            sub.add(name, item)
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes | Mapping):
            sub.add_many(name, item)
        else:
            raise InvalidExpansion(
                f"{where}: Complete(add=...) entry {name!r} must be a job or a list of jobs, "
                f"got {type(item).__name__}"
            )
    return sub


async def complete(
    oban: Oban,
    job: Job,
    encoded: str | None,
    usage: str | None,
    addition: store.Addition | None,
    context: Mapping[str, Any],
    *,
    unless_cancelled: bool = False,
    skip: store.Skip | None = None,
) -> store.Completion:
    """Store the result, add ``context`` and the ``addition``'s steps, in one transaction.

    Nothing is added when the workflow was cancelled or the step already settled (a
    warning is logged); the result is stored all the same, unless ``unless_cancelled``
    (an interruptible step) and the workflow was cancelled.

    Returns:
        What was written: ``stored``; or ``already`` (an earlier attempt stored the result)
        or ``refused`` (the workflow was cancelled), and then nothing is written.

    Raises:
        ContextConflict: ``context`` would change a value already set; nothing is written.
        InvalidSkip: ``skip`` names a step that is not a direct dependent; nothing is
            written.
        TooManySteps: the addition would take the workflow past its ``max_steps``;
            nothing is written.
    """

    def merged(current: dict[str, Any], step: str) -> str:
        return _json.encode(_context.merge_for_step(current, context, step))

    done = await store.complete(
        oban,
        job,
        encoded,
        usage,
        addition,
        merged if context else None,
        unless_cancelled=unless_cancelled,
        skip=skip,
    )
    if addition is not None and done.skipped is not None:
        logger.warning(
            "step %r of workflow %r: not adding %d steps, the %s",
            job.meta.get("workflow_step"),
            job.meta.get("workflow_id"),
            addition.count,
            done.skipped,
        )
    return done
