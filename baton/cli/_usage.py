"""``baton usage``: LLM cost, tokens and latency over a period, by model, workflow or day."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from rich import box
from rich.table import Table
from rich.text import Text

from .. import _analytics
from ._connection import call, settings
from ._options import connection
from ._prune import DURATION, describe
from ._sanitize import clean_line
from ._terminal import console, cost, duration

COLUMNS = {"model": "MODEL", "workflow": "WORKFLOW", "day": "DAY (UTC)"}
NO_KEY = {"model": "(no model)", "workflow": "(unnamed)", "day": ""}


def _latency(ms: float | None) -> str:
    return duration(ms) if ms is not None else "—"


def usage_table(report: _analytics.UsageReport) -> Table:
    """One row per group, then the period's total."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_footer=True)
    table.add_column(COLUMNS[report.by], footer="total")
    table.add_column("CALLS", justify="right", footer=f"{report.total.calls:,}")
    for title, name in (
        ("INPUT", "input_tokens"),
        ("OUTPUT", "output_tokens"),
        ("CACHE READ", "cache_read_tokens"),
        ("CACHE WRITE", "cache_write_tokens"),
    ):
        table.add_column(title, justify="right", footer=f"{getattr(report.total, name):,}")
    table.add_column("COST", justify="right", footer=cost(report.total.cost_usd))
    table.add_column("UNPRICED", justify="right", footer=f"{report.total.unpriced_calls:,}")
    table.add_column("P50", justify="right", footer=_latency(report.total.latency_p50_ms))
    table.add_column("P95", justify="right", footer=_latency(report.total.latency_p95_ms))
    for group in report.groups:
        table.add_row(
            Text(clean_line(group.key) if group.key is not None else NO_KEY[report.by]),
            f"{group.calls:,}",
            f"{group.input_tokens:,}",
            f"{group.output_tokens:,}",
            f"{group.cache_read_tokens:,}",
            f"{group.cache_write_tokens:,}",
            cost(group.cost_usd),
            f"{group.unpriced_calls:,}",
            _latency(group.latency_p50_ms),
            _latency(group.latency_p95_ms),
        )
    return table


@click.command()
@connection
@click.option(
    "--since",
    type=DURATION,
    default="7d",
    show_default=True,
    help="How far back the period starts: 7d, 12h, 30m, 45s.",
)
@click.option(
    "--by",
    type=click.Choice(_analytics.GROUPINGS),
    default="model",
    show_default=True,
    help="Group by model, workflow name, or UTC day.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def usage(
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    since: timedelta,
    by: str,
    as_json: bool,
) -> None:
    """LLM cost, tokens (cache reads and writes too) and latency p50/p95 over a period.

    Counts every usage that steps reported (their llm_usage) since --since ago, grouped
    --by model, workflow or day.
    """
    if since <= timedelta(0):
        raise click.BadParameter("must be longer than 0s", param_hint="'--since'")
    report = call(
        settings(config, dsn, prefix),
        lambda oban: _analytics.usage_report(since=since, by=by, oban=oban),
    )
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    elif not report.groups:
        click.echo(f"No LLM usage recorded in the last {describe(since)}.")
    else:
        console().print(usage_table(report))
