"""Retention: finished workflows older than an age are deleted with everything they own.

Nothing else deletes from Baton's tables, so without pruning they grow without bound while
Oban prunes its jobs. ``prune()`` deletes workflows whose ``finished_at`` is older than
``older_than`` — completed, failed, or cancelled and finished; never one still running —
with their steps (results and usage), their edges and the jobs they still have in
``oban_jobs``. Every table that belongs to a workflow references ``baton_workflows`` with
``ON DELETE CASCADE``, so a table added later is pruned by declaring that foreign key.

It works in batches, each its own short transaction: whole workflows, oldest first, while
their steps fit in ``limit``. A workflow some other transaction holds locked is skipped,
and so is one that finished but still has a job outside a final state (retried by hand).
A workflow whose jobs Oban already pruned is pruned like any other.

It reports through the telemetry span ``baton.prune`` (``metadata["report"]`` on
``baton.prune.stop``) and returns the same ``PruneReport``. ``Pruner`` runs it periodically
on the leader node; ``baton start`` runs one (``--prune-after``, ``--no-prune``).

Captured calls (``baton.capture``) go with their workflow, and before it once older than
their own, shorter, age: ``calls_older_than`` (the Pruner's ``calls_max_age``, a day by
default; ``--prune-calls-after``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from oban import Oban, telemetry

from . import _oban, store
from ._leader import LeaderLoop
from .errors import RetentionError

logger = logging.getLogger("baton")

DEFAULT_MAX_AGE = timedelta(days=7)
#: How long the Pruner keeps captured calls (workflows: ``DEFAULT_MAX_AGE``).
DEFAULT_CALLS_MAX_AGE = timedelta(days=1)
OLDEST = timedelta(days=365_000)
DEFAULT_INTERVAL = 60.0
#: The most steps one batch deletes, in one transaction.
DEFAULT_LIMIT = 5_000
#: The Pruner's wait between two batches: it gives way to the workflows running meanwhile.
PRUNER_PAUSE = 0.5


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What one ``prune()`` deleted, or with ``dry_run`` would have deleted.

    Attributes:
        workflows: finished workflows.
        steps: their steps, with results and usage.
        edges: their dependency edges.
        jobs: their jobs that were still in ``oban_jobs``.
        batches: the transactions it took.
        dry_run: nothing was deleted; the counts are what would have been.
        calls: captured calls deleted for their age (``calls_older_than``), not counting
            those deleted with their workflow.
    """

    workflows: int = 0
    steps: int = 0
    edges: int = 0
    jobs: int = 0
    batches: int = 0
    dry_run: bool = False
    calls: int = 0


def as_age(value: object, what: str) -> timedelta:
    """``value`` (a ``timedelta`` or a number of seconds, not negative) as a ``timedelta``.

    Raises:
        RetentionError: anything else, named as ``what``.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise RetentionError(
            f"{what} must be a timedelta or a number of seconds, got {type(value).__name__} "
            f"{value!r}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise RetentionError(f"{what} must be zero or more seconds, got {value!r}")
    # Nothing finished longer ago than that, and the database's timestamps end not much
    # further back: a larger age prunes the same (nothing), so it is taken as this one.
    return timedelta(seconds=min(seconds, OLDEST.total_seconds()))


def check_pause(pause: object) -> float:
    """``pause`` as seconds if it is a finite number, zero or more; else a ``RetentionError``."""
    if isinstance(pause, bool) or not isinstance(pause, int | float) or not 0 <= pause < math.inf:
        raise RetentionError(f"pause must be zero or more seconds, got {pause!r}")
    return float(pause)


def check_limit(limit: object) -> int:
    """``limit`` if it is a positive integer, else a ``RetentionError``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RetentionError(f"limit must be a positive number of steps, got {limit!r}")
    return limit


async def prune(
    older_than: timedelta | float,
    *,
    oban: Oban | str | None = None,
    dry_run: bool = False,
    limit: int = DEFAULT_LIMIT,
    pause: float = 0.0,
    calls_older_than: timedelta | float | None = None,
) -> PruneReport:
    """Delete finished workflows older than ``older_than``, with all their rows.

    Args:
        older_than: how long ago a workflow must have finished; a ``timedelta`` or seconds.
            ``0`` prunes every workflow finished so far.
        oban: the instance (or its name) whose tables hold the workflows.
        dry_run: count what would be deleted, delete nothing.
        limit: the most steps deleted in one transaction (whole workflows; one bigger
            than ``limit`` goes alone).
        pause: seconds to wait between two batches, giving way to other work (the
            ``Pruner`` waits ``PRUNER_PAUSE``, half a second).
        calls_older_than: also delete captured calls older than this, whatever their
            workflow's state (None: calls go only with their workflow).

    Returns:
        The counts of what was deleted.

    Raises:
        RetentionError: ``older_than``, ``calls_older_than`` or ``limit`` is not valid;
            nothing was deleted.

    Example:
        >>> report = await baton.prune(timedelta(days=7))
        >>> report.workflows, report.steps
    """
    age = as_age(older_than, "older_than")
    calls_age = None if calls_older_than is None else as_age(calls_older_than, "calls_older_than")
    batch_limit = check_limit(limit)
    wait = check_pause(pause)
    instance = _oban.instance(oban)
    totals = {"workflows": 0, "steps": 0, "edges": 0, "jobs": 0}
    batches = calls = 0
    meta = {"older_than": age, "dry_run": dry_run}
    with telemetry.span("baton.prune", meta) as collector:
        if calls_age is not None:
            calls, batches = await _prune_calls(instance, calls_age, batch_limit, wait, dry_run)
        cutoff = await store.prune_cutoff(instance, age)
        after = store.PRUNE_START
        while True:
            if batches and wait:
                await asyncio.sleep(wait)  # between batches: none holds a lock meanwhile
            batch = await store.prune_batch(
                instance, cutoff, after, batch_limit, delete=not dry_run
            )
            if batch is None:
                break
            batches += 1
            after = batch.last
            for name in totals:
                totals[name] += getattr(batch, name)
        report = PruneReport(**totals, batches=batches, dry_run=dry_run, calls=calls)
        collector.add({"report": report})
    return report


async def _prune_calls(
    oban: Oban, age: timedelta, limit: int, wait: float, dry_run: bool
) -> tuple[int, int]:
    """Delete the calls captured longer than ``age`` ago; the count and the batches."""
    cutoff = await store.prune_cutoff(oban, age)
    if dry_run:
        return await store.prune_calls(oban, cutoff, limit, delete=False), 0
    total = batches = 0
    while count := await store.prune_calls(oban, cutoff, limit, delete=True):
        total += count
        batches += 1
        if wait:
            await asyncio.sleep(wait)
    return total, batches


class Pruner(LeaderLoop):
    """Runs ``prune(max_age)`` every ``interval`` seconds while this node is Oban's leader.

    Args:
        oban: the instance (or its name); it must be started for this node to lead.
        max_age: how long a finished workflow is kept (7 days by default); ``None`` turns
            the pruner off: starting it then does nothing.
        interval: seconds between runs.
        limit: the most steps deleted per transaction (see ``prune``).
        pause: seconds between two batches of one run, so that a backlog is deleted at a
            pace the running workflows hardly notice (``docs/performance.md``).
        calls_max_age: how long captured calls are kept (a day by default); ``None``
            keeps them as long as their workflow.

    Raises:
        RetentionError: an argument is not valid.

    Example:
        >>> async with Oban(pool=pool, queues={"default": 10}) as oban:
        ...     async with baton.Pruner(oban, max_age=timedelta(days=3)):
        ...         await serve_forever()
    """

    label = "prune"

    def __init__(
        self,
        oban: Oban | str | None = None,
        *,
        max_age: timedelta | float | None = DEFAULT_MAX_AGE,
        interval: float = DEFAULT_INTERVAL,
        limit: int = DEFAULT_LIMIT,
        pause: float = PRUNER_PAUSE,
        calls_max_age: timedelta | float | None = DEFAULT_CALLS_MAX_AGE,
    ) -> None:
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not 0 < interval < math.inf
        ):
            raise RetentionError(f"interval must be a positive number of seconds, got {interval!r}")
        self.max_age = None if max_age is None else as_age(max_age, "max_age")
        self.calls_max_age = (
            None if calls_max_age is None else as_age(calls_max_age, "calls_max_age")
        )
        self._limit = check_limit(limit)
        self._pause = check_pause(pause)
        super().__init__(_oban.instance(oban), float(interval))

    def enabled(self) -> bool:
        """False when ``max_age`` is None: the pruner is off."""
        return self.max_age is not None

    async def run_once(self) -> None:
        """One run of ``prune(max_age)``; what it deleted is logged."""
        if self.max_age is None:
            return
        report = await prune(
            self.max_age,
            oban=self._oban,
            limit=self._limit,
            pause=self._pause,
            calls_older_than=self.calls_max_age,
        )
        if report.calls:
            logger.info("Baton pruned %d captured call(s)", report.calls)
        if report.workflows:
            logger.info(
                "Baton pruned %d workflow(s) finished over %s ago: %d step(s), "
                "%d edge(s), %d job(s)",
                report.workflows,
                self.max_age,
                report.steps,
                report.edges,
                report.jobs,
            )
