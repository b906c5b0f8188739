"""Periodic work that runs on Oban's leader only: the sweep and the pruner.

A ``LeaderLoop`` runs its ``run_once`` every ``interval`` seconds in a background task,
while this node leads (so one node of many does it), as an async context manager. A
failing run is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Self

from oban import Oban

logger = logging.getLogger("baton")


class LeaderLoop:
    """The loop; subclasses give ``run_once`` and a ``label`` for the task and the log.

    Args:
        oban: the instance; it must be started for this node to lead.
        interval: seconds between runs, already checked by the subclass.
    """

    label = "leader loop"

    def __init__(self, oban: Oban, interval: float) -> None:
        self._oban = oban
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def enabled(self) -> bool:
        """Whether starting runs the loop at all."""
        return True

    async def run_once(self) -> None:
        """One run, on the leader."""
        raise NotImplementedError

    async def start(self) -> None:
        """Start running in the background (unless ``enabled()`` is false)."""
        if self._task is None and self.enabled():
            self._task = asyncio.create_task(self._loop(), name=f"baton-{self.label}")

    async def stop(self) -> None:
        """Stop; waits for a run in progress to be cancelled (its transaction rolls back)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _loop(self) -> None:
        while True:
            if self._oban.is_leader:
                try:
                    await self.run_once()
                except Exception:
                    logger.exception(
                        "Baton %s failed; retrying in %.0fs", self.label, self._interval
                    )
            await asyncio.sleep(self._interval)
