"""The limits page: every rate limit, what its window holds now, and its 429 pause.

``/limits`` lists every key (``baton.limits``); ``/limits?key=openai`` only that one, a
bad key a 400 and an unknown one a 404. Numbers and times are the same as
``baton limits`` prints; see docs/rate-limits.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from oban import Oban
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .._limits import Limit, check_key, get_limit, limits
from ..errors import InvalidLimit


async def found(request: Request, oban: Oban) -> tuple[str | None, list[Limit]]:
    """The key asked for (None: every key) and the limits to show."""
    key = request.query_params.get("key")
    if key is None:
        return None, await limits(oban=oban)
    try:
        check_key(key, "key")
    except InvalidLimit as error:
        raise HTTPException(400, str(error)) from None
    limit = await get_limit(key, oban=oban)
    if limit is None:
        raise HTTPException(404, f"no rate limit {key!r} (baton limits lists them)")
    return key, [limit]


def _per_minute(value: int | None) -> str:
    return "not limited" if value is None else f"{value:,}"


def _used(used: int, per_window: int | None) -> str:
    return f"{used:,}" if per_window is None else f"{used:,} / {per_window:,}"


def _paused(until: datetime | None, now: datetime) -> str:
    if until is None or until <= now:
        return ""
    left = (until - now).total_seconds()
    iso = until.isoformat()
    return f'~{left:.0f} s (until <time datetime="{escape(iso)}">{until:%H:%M:%S} UTC</time>)'


def _row(base: str, item: Limit, now: datetime) -> str:
    link = f"{escape(base)}/limits?key={escape(quote(item.key, safe=''))}"
    paused = _paused(item.paused_until, now)
    marker = ' class="paused"' if paused else ""
    return (
        f'<tr{marker}><td><a href="{link}">{escape(item.key)}</a></td>'
        f'<td class="num">{_per_minute(item.requests_per_minute)}</td>'
        f'<td class="num">{_per_minute(item.tokens_per_minute)}</td>'
        f'<td class="num">{item.window_seconds:g} s</td>'
        f'<td class="num">{_used(item.requests_used, item.requests_per_window)}</td>'
        f'<td class="num">{_used(item.tokens_used, item.tokens_per_window)}</td>'
        f"<td>{paused}</td></tr>"
    )


def content(base: str, key: str | None, shown: list[Limit], now: datetime | None = None) -> str:
    """The limits page's main content: a heading, the table, a line when there is none."""
    moment = now or datetime.now(UTC)
    rows = "".join(_row(base, item, moment) for item in shown)
    heading = "Rate limits" if key is None else f"Rate limit {escape(key)}"
    back = "" if key is None else f'<p><a href="{escape(base)}/limits">All rate limits</a></p>'
    empty = (
        ""
        if shown
        else '<p class="empty">No rate limits are set: <code>baton.set_limit</code> or '
        "<code>baton limits set</code> adds one.</p>"
    )
    return (
        f"<h1>{heading}</h1>{back}"
        '<table id="limits" class="grid"><thead><tr>'
        "<th>Key</th><th>Requests/min</th><th>Tokens/min</th><th>Window</th>"
        "<th>Requests in window</th><th>Tokens in window</th><th>Paused (429)</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>{empty}"
    )
