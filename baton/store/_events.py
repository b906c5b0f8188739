"""Events sent from Python rather than by the database's functions: streamed output."""

from __future__ import annotations

from oban import Oban

from .. import _oban
from . import _execute as db


async def notify_output(oban: Oban, channel: str, workflow_id: str, payload: str) -> None:
    """Send one ``StepOutput`` payload (JSON, under 8,000 bytes) on ``channel``, if anyone
    listens for ``workflow_id``'s events."""
    async with _oban.single(oban) as conn:
        await db.values(
            conn,
            "notify_output.sql",
            _oban.prefix(oban),
            {"channel": channel, "workflow_id": workflow_id, "payload": payload},
        )
