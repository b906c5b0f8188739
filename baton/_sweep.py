"""The stuck-workflow sweep: settles what no trigger saw, so no workflow runs forever.

Activation is event-driven, but some changes fire no row trigger: ``TRUNCATE oban_jobs``,
updates made with triggers disabled (``session_replication_role = replica``), or states
set before Baton was installed. A step whose job vanished that way, or reached a final
state unseen, would leave its dependents suspended and its workflow "running" forever.

``sweep()`` finds, in unfinished workflows only:

1. steps whose job is gone or final but which never settled — it settles them with the
   same code as the trigger (a missing job counts as ``deleted``), which cancels or
   activates their dependents per the ignore flags and finishes the workflow, with its
   events;
2. suspended steps whose deps have all settled — it activates them (or cancels plain
   Oban workers whose deps failed).

It reports through the telemetry event ``baton.sweep.stop`` (``metadata["report"]``) and
returns the same ``SweepReport``. ``Sweeper`` runs it periodically on the leader node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from oban import Oban, telemetry

from . import _oban, store
from ._leader import LeaderLoop
from .errors import InvalidOption

logger = logging.getLogger("baton")

DEFAULT_INTERVAL = 60.0
DEFAULT_LIMIT = 1_000


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep changed: ``(workflow_id, step, state)`` triples."""

    settled: tuple[tuple[str, str, str], ...]
    activated: tuple[tuple[str, str, str], ...]

    @property
    def changed(self) -> bool:
        return bool(self.settled or self.activated)


async def sweep(*, oban: Oban | str | None = None, limit: int = DEFAULT_LIMIT) -> SweepReport:
    """Settle and activate the steps that no trigger will (see the module doc).

    Safe to run at any time and from several nodes: every change goes through the same
    locks and first-settlement-wins rules as the trigger.
    """
    instance = _oban.instance(oban)
    settled: list[tuple[str, str, str]] = []
    activated: list[tuple[str, str, str]] = []
    with telemetry.span("baton.sweep", {}) as collector:
        while True:  # settling can leave more to settle (a cascade through plain workers)
            rows = await store.settle_unseen(instance, limit)
            settled.extend((row.workflow_id, row.name, row.state) for row in rows)
            moved = await store.activate_stuck(instance, limit)
            activated.extend((row.workflow_id, row.name, row.state) for row in moved)
            if len(rows) < limit and len(moved) < limit:
                break
        report = SweepReport(tuple(settled), tuple(activated))
        collector.add({"report": report})
    if report.changed:
        logger.warning(
            "Baton sweep settled %d step(s) and activated %d: %s",
            len(report.settled),
            len(report.activated),
            # ids are free text: repr() keeps a newline in one from forging a log line
            ", ".join(f"{wid!r}/{name}→{state}" for wid, name, state in settled + activated)[:2000],
        )
    return report


class Sweeper(LeaderLoop):
    """Runs ``sweep()`` every ``interval`` seconds while this node is Oban's leader.

    Example:
        >>> async with Oban(pool=pool, queues={"default": 10}) as oban:
        ...     async with baton.Sweeper(oban, interval=60):
        ...         await serve_forever()
    """

    label = "sweep"

    def __init__(
        self, oban: Oban | str | None = None, *, interval: float = DEFAULT_INTERVAL
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise InvalidOption(f"interval must be a positive number of seconds, got {interval!r}")
        super().__init__(_oban.instance(oban), float(interval))

    async def run_once(self) -> None:
        """One sweep."""
        await sweep(oban=self._oban)
