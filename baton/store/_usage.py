"""Usage analytics: the statements over ``baton_usage``, the table of recorded usage."""

from __future__ import annotations

from datetime import datetime

from oban import Oban

from .. import _oban
from . import _execute as db
from ._rows import UsageReportRow


async def usage_report(
    oban: Oban, by: str, since: datetime, until: datetime
) -> list[UsageReportRow]:
    """The usage recorded in ``[since, until)`` (naive UTC) grouped ``by`` a key, with totals."""
    params = {"by": by, "since": since, "until": until}
    async with _oban.pooled(oban) as conn:
        return await db.rows(conn, "usage/report.sql", _oban.prefix(oban), params, UsageReportRow)
