"""The pruning's statements: the cutoff, then each batch chosen, counted and deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oban import Oban

from .. import _oban
from . import _execute as db
from ._rows import PruneCandidate, PruneCount

#: Where the first batch starts: before every (finished_at, id).
START = (datetime(1, 1, 1), "")


@dataclass(frozen=True, slots=True)
class PrunedBatch:
    """What one batch deleted (or, in a dry run, would delete).

    Attributes:
        last: the (finished_at, id) of its newest workflow; the next batch starts after it.
        workflows: workflows in the batch.
        steps: their steps (with results and usage).
        edges: their edges.
        jobs: their jobs still in ``oban_jobs``.
    """

    last: tuple[datetime, str]
    workflows: int
    steps: int
    edges: int
    jobs: int


async def prune_cutoff(oban: Oban, older_than: timedelta) -> datetime:
    """The database's current time, less ``older_than``."""
    async with _oban.single(oban) as conn:
        found = await db.values(
            conn, "prune/cutoff.sql", _oban.prefix(oban), {"older_than": older_than}
        )
    cutoff: datetime = found[0]
    return cutoff


async def prune_batch(
    oban: Oban, cutoff: datetime, after: tuple[datetime, str], limit: int, *, delete: bool
) -> PrunedBatch | None:
    """Choose, count and (unless ``delete`` is false) delete the next batch, in one transaction.

    Args:
        oban: the instance whose tables hold the workflows.
        cutoff: only workflows finished before it.
        after: the (finished_at, id) the previous batch ended at, or ``START``.
        limit: the most steps in one batch (the first workflow always goes in).
        delete: false for a dry run: the batch is counted, nothing is deleted.

    Returns:
        The batch, or None when no workflow is left to prune.
    """
    prefix = _oban.prefix(oban)
    params = {"cutoff": cutoff, "after_at": after[0], "after_id": after[1], "limit": limit}
    async with _oban.pooled(oban) as conn, conn.transaction():
        chosen = await db.rows(conn, "prune/batch.sql", prefix, params, PruneCandidate)
        if not chosen:
            return None
        ids = {"ids": [workflow.id for workflow in chosen]}
        # aggregates only: always exactly one row
        [counted] = await db.rows(
            conn, "prune/delete.sql" if delete else "prune/count.sql", prefix, ids, PruneCount
        )
    newest = chosen[-1]
    return PrunedBatch(
        (newest.finished_at, newest.id),
        counted.workflows,
        counted.steps,
        counted.edges,
        counted.jobs,
    )
