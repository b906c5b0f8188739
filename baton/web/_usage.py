"""The usage page and its JSON: ``baton.usage_report`` over ``?since=7d&by=model``."""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape

from oban import Oban
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .._analytics import GROUPINGS, UsageGroup, UsageReport, usage_report
from ._pages import duration

UNITS = {"m": 60, "h": 3600, "d": 86400}
_SINCE = re.compile(r"([0-9]{1,5})([mhd])")  # ASCII digits only
LONGEST = timedelta(days=3650)
PERIODS = ("24h", "7d", "30d", "90d")
HEADINGS = {"model": "Model", "workflow": "Workflow", "day": "Day (UTC)"}
NO_KEY = {"model": "(no model)", "workflow": "(unnamed)", "day": ""}


def params(request: Request) -> tuple[str, timedelta, str]:
    """``since`` as given and as a timedelta, and ``by``; a 400 naming a bad one."""
    since = request.query_params.get("since", "7d")
    found = _SINCE.fullmatch(since)
    if found is None or int(found[1]) == 0:
        raise HTTPException(400, "since must be a duration such as 24h, 7d or 30m")
    period = timedelta(seconds=int(found[1]) * UNITS[found[2]])
    if period > LONGEST:
        raise HTTPException(400, f"since must be at most {LONGEST.days} days")
    by = request.query_params.get("by", "model")
    if by not in GROUPINGS:
        raise HTTPException(400, f"by must be one of {', '.join(GROUPINGS)}")
    return since, period, by


async def report(request: Request, oban: Oban) -> tuple[str, UsageReport]:
    """The report the request asks for, with its ``since`` as given."""
    since, period, by = params(request)
    return since, await usage_report(since=period, by=by, oban=oban)


def _cells(label: str, group: UsageGroup) -> str:
    numbers = (
        group.calls,
        group.input_tokens,
        group.output_tokens,
        group.cache_read_tokens,
        group.cache_write_tokens,
    )
    cells = "".join(f'<td class="num">{value:,}</td>' for value in numbers)
    unpriced = f" ({group.unpriced_calls:,} unpriced)" if group.unpriced_calls else ""
    return (
        f"<td>{escape(label)}</td>{cells}"
        f'<td class="num">${escape(str(group.cost_usd))}{escape(unpriced)}</td>'
        f'<td class="num">{escape(duration(group.latency_p50_ms))}</td>'
        f'<td class="num">{escape(duration(group.latency_p95_ms))}</td>'
    )


def _links(base: str, since: str, by: str) -> str:
    def link(query: str, text: str, current: bool) -> str:
        marker = " aria-current=page" if current else ""
        return f'<a href="{escape(base)}/usage?{escape(query)}"{marker}>{escape(text)}</a>'

    periods = " ".join(link(f"since={p}&by={by}", p, p == since) for p in PERIODS)
    groupings = " ".join(link(f"since={since}&by={g}", g, g == by) for g in GROUPINGS)
    return (
        f'<nav class="filters" aria-label="Period">{periods}</nav>'
        f'<nav class="filters" aria-label="Group by">{groupings}</nav>'
    )


def content(base: str, since: str, found: UsageReport) -> str:
    """The usage page's main content: links to other periods and groupings, the table."""
    rows = "".join(
        f"<tr>{_cells(group.key if group.key is not None else NO_KEY[found.by], group)}</tr>"
        for group in found.groups
    )
    empty = "" if found.groups else '<p class="empty">No LLM usage recorded in this period.</p>'
    return (
        f"<h1>LLM usage, last {escape(since)}</h1>{_links(base, since, found.by)}"
        '<table id="usage" class="grid"><thead><tr>'
        f"<th>{HEADINGS[found.by]}</th><th>Calls</th><th>Input</th><th>Output</th>"
        "<th>Cache read</th><th>Cache write</th><th>Cost</th><th>p50</th><th>p95</th>"
        f"</tr></thead><tbody>{rows}</tbody>"
        f'<tfoot><tr class="total">{_cells("total", found.total)}</tr></tfoot></table>{empty}'
    )
