"""Usage analytics: cost, tokens and latency over a period, by model, workflow or day."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from oban import Oban

from . import _oban, store
from .errors import InvalidOption

#: What a report groups by: the model, the workflow's name, or the UTC day (``YYYY-MM-DD``).
GROUPINGS = ("model", "workflow", "day")


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """The usage of one model, workflow name or day (``key``), or of the whole period.

    ``key`` is None for calls that named no model (by model) or workflows without a name
    (by workflow), and for the period's totals. ``cost_usd`` sums the calls whose cost is
    known; ``unpriced_calls`` counts the others (a model no price table knows).
    ``latency_p50_ms`` and ``latency_p95_ms`` are over the calls that reported
    ``latency_ms`` (None when none did).
    """

    key: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: Decimal
    unpriced_calls: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The usage recorded in ``[since, until)``: one group per key, costliest first (days in
    order), and the ``total`` over the period."""

    by: str
    since: datetime
    until: datetime
    groups: tuple[UsageGroup, ...]
    total: UsageGroup

    def as_json(self) -> dict[str, Any]:
        """The report as JSON values: times in ISO 8601, costs as decimal strings."""
        data: dict[str, Any] = asdict(self)
        data["since"] = self.since.isoformat()
        data["until"] = self.until.isoformat()
        for group in (*data["groups"], data["total"]):
            group["cost_usd"] = str(group["cost_usd"])
        return data

    def group(self, key: str | None) -> UsageGroup:
        """The group of one model, workflow name or day."""
        for group in self.groups:
            if group.key == key:
                return group
        raise KeyError(f"no usage by {self.by} {key!r} between {self.since} and {self.until}")


GROUP_FIELDS = tuple(item.name for item in fields(UsageGroup))


def _moment(value: datetime | timedelta | None, name: str, now: datetime) -> datetime:
    match value:
        case None:
            return now
        case timedelta() if value > timedelta(0):
            return now - value
        case timedelta():
            raise InvalidOption(f"{name} must be a positive timedelta (how long ago), got {value}")
        case datetime() if value.tzinfo is None:
            raise InvalidOption(
                f"{name} must be timezone-aware (datetime.now(UTC), say), got {value.isoformat()}"
            )
        case datetime():
            return value.astimezone(UTC)
    raise InvalidOption(
        f"{name} must be a datetime or a timedelta (how long ago), got {type(value).__name__}"
    )


async def usage_report(
    *,
    since: datetime | timedelta,
    until: datetime | timedelta | None = None,
    by: str = "model",
    oban: Oban | str | None = None,
) -> UsageReport:
    """Cost, tokens and latency of the LLM usage steps recorded over a period.

    Every usage a step reported (``llm_usage``) counts once, when its result was stored; a
    step that ran again after ``baton.retry`` counts again, since both calls were paid
    for. Usage is kept as long as its workflow (the pruner deletes both).

    Args:
        since: the start of the period: a timezone-aware datetime, or a timedelta back
            from now (``timedelta(days=7)``).
        until: its end (excluded), likewise; default now.
        by: ``model``, ``workflow`` (the workflow's name) or ``day`` (UTC, ``YYYY-MM-DD``).
        oban: the Oban instance (or its name) whose database to read; default ``"Oban"``.

    Raises:
        InvalidOption: ``by`` is not one of those, a datetime is naive, a timedelta is not
            positive, or the period ends before it starts.

    Example:
        >>> report = await baton.usage_report(since=timedelta(days=7), by="model")
        >>> report.group("gpt-4o").cost_usd
        Decimal('1.2345')
    """
    if by not in GROUPINGS:
        raise InvalidOption(f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")
    now = datetime.now(UTC)
    start = _moment(since, "since", now)
    end = _moment(until, "until", now)
    if end <= start:
        raise InvalidOption(
            f"the period is empty: until ({end.isoformat()}) is not after since "
            f"({start.isoformat()})"
        )
    naive = (start.replace(tzinfo=None), end.replace(tzinfo=None))
    rows = await store.usage_report(_oban.instance(oban), by, *naive)
    groups = []
    total = UsageGroup(None, 0, 0, 0, 0, 0, Decimal(0), 0, None, None)
    for row in rows:
        group = UsageGroup(**{name: getattr(row, name) for name in GROUP_FIELDS})
        if row.grouped:
            groups.append(group)
        else:
            total = group
    return UsageReport(by=by, since=start, until=end, groups=tuple(groups), total=total)
