"""The Oban nodes at work: which queues a running, unpaused producer serves.

Each node running a queue keeps a row in ``oban_producers``: Oban refreshes its
``updated_at`` every 15 s, deletes it when the node stops, and its leader deletes rows
older than 60 s (those of a node that died). A row refreshed within ``PRODUCER_MAX_AGE``
whose queue is not paused is a node serving that queue now.
"""

from __future__ import annotations

from collections.abc import Collection

from oban import Oban

from .. import _oban
from . import _execute as db

PRODUCER_MAX_AGE = 60.0  # seconds: Oban's refresher's default max_age


async def served_queues(oban: Oban, queues: Collection[str]) -> set[str]:
    """Those of ``queues`` that some running node serves, not paused."""
    if not queues:
        return set()
    params = {"queues": list(queues), "max_age": PRODUCER_MAX_AGE}
    async with _oban.pooled(oban) as conn:
        return set(await db.values(conn, "served_queues.sql", _oban.prefix(oban), params))
