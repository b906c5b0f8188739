"""Workflow deadlines: a workflow still unfinished at its deadline fails as a whole.

``Workflow(deadline=600)`` records ``deadline_at`` (insert time plus the deadline) on the
workflow's row. At the start of every cycle of Oban's stager — on every started Oban
instance, whether or not it runs queues, every ``stager.interval`` seconds (1 s by
default) — Baton runs :func:`enforce_deadlines`: one statement, through a partial index
of the deadlines still to enforce, marks the unfinished workflows whose deadline passed as
failed with the reason ``deadline`` (and cancelled, so no step starts or stores a result
from then on); then, as ``baton.cancel`` does, Oban cancels their unfinished jobs and
signals the executing ones, on whichever node runs them, which interrupts their
``perform_workflow``. The workflow finishes ``failed`` with ``reason == "deadline"`` when
its last step settles, in its one ``WorkflowFinished`` event.

Nodes do not collide: a workflow another node is marking (or a settlement holds locked)
is skipped and, if still due, taken at the next cycle. A settlement that commits before
the marking wins (the workflow finished in time); one that commits after it finds the
workflow failed.

It reports each enforced deadline through the telemetry event
``baton.workflow.deadline`` (``metadata``: ``workflow_id``, ``cancelled``).
"""

from __future__ import annotations

import logging
import time

from oban import Oban, telemetry

from . import _control, _oban, store
from .errors import InvalidOption

logger = logging.getLogger("baton")

#: The most workflows one check fails; more are left to the next cycle.
DEFAULT_LIMIT = 100
#: Seconds between two log records of a failing check on one instance.
LOG_EVERY = 60.0

_last_logged: dict[int, float] = {}


async def enforce_deadlines(
    *, oban: Oban | str | None = None, limit: int = DEFAULT_LIMIT
) -> list[str]:
    """Fail the unfinished workflows whose deadline passed; their ids.

    Oban's stager runs this every cycle on every started instance, so there is no need to
    call it; it is safe to call at any time, from any number of nodes.

    Args:
        oban: the Oban instance (or its name) whose database to check; default ``"Oban"``.
        limit: at most this many workflows; the rest are left to the next call.

    Raises:
        InvalidOption: ``limit`` is not a positive integer.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidOption(f"limit must be a positive integer, got {limit!r}")
    instance = _oban.instance(oban)
    expired = await store.expire_deadlines(instance, limit)
    for workflow_id, jobs in expired:
        cancelled = await _control.cancel_jobs(instance, list(jobs))
        telemetry.execute(
            "baton.workflow.deadline", {"workflow_id": workflow_id, "cancelled": cancelled}
        )
    return [workflow_id for workflow_id, _jobs in expired]


async def _on_stage(oban: Oban) -> None:
    """The stager's hook: never raises (the stager would skip its staging), logs sparingly."""
    try:
        await enforce_deadlines(oban=oban)
    except Exception:
        now = time.monotonic()
        if now - _last_logged.get(id(oban), -LOG_EVERY) >= LOG_EVERY:
            _last_logged[id(oban)] = now
            logger.warning(
                "Baton's deadline check failed on node %r; it runs again at every stager "
                "cycle (this is logged at most every %.0fs)",
                _oban.node(oban),
                LOG_EVERY,
                exc_info=True,
            )


_oban.before_stage("deadlines", _on_stage)
