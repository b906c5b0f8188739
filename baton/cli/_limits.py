"""``baton limits``: the rate limits shared by every node, and setting, removing, resuming them.

``baton limits`` lists each key with its limits, what its window holds now and how long a
provider's 429 paused it; ``baton limits set KEY --rpm N --tpm N [--window S]``,
``baton limits remove KEY`` and ``baton limits resume KEY`` change them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from .. import _limits
from ._connection import call, settings
from ._options import connection
from ._sanitize import clean_line
from ._terminal import console


def _count(used: int, limit: int | None) -> str:
    return f"{used:,}" if limit is None else f"{used:,}/{limit:,}"


def _per_minute(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _paused(until: datetime | None, now: datetime) -> str:
    if until is None:
        return "-"
    return f"{(until - now).total_seconds():.0f}s (until {until:%H:%M:%S} UTC)"


def limits_table(found: list[_limits.Limit], now: datetime) -> Table:
    """One row per key: its limits per minute, its window's usage, its pause."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("KEY")
    table.add_column("REQ/MIN", justify="right", no_wrap=True)
    table.add_column("TOKENS/MIN", justify="right", no_wrap=True)
    table.add_column("WINDOW", justify="right", no_wrap=True)
    table.add_column("REQUESTS", justify="right", no_wrap=True)
    table.add_column("TOKENS", justify="right", no_wrap=True)
    table.add_column("PAUSED", no_wrap=True)
    for item in found:
        table.add_row(
            Text(clean_line(item.key)),
            _per_minute(item.requests_per_minute),
            _per_minute(item.tokens_per_minute),
            f"{item.window_seconds:g}s",
            _count(item.requests_used, item.requests_per_window),
            _count(item.tokens_used, item.tokens_per_window),
            _paused(item.paused_until, now),
        )
    return table


def _as_json(found: list[_limits.Limit]) -> str:
    def plain(item: _limits.Limit) -> dict[str, Any]:
        values = dataclasses.asdict(item)
        until = values["paused_until"]
        values["paused_until"] = None if until is None else until.isoformat()
        return values

    return json.dumps([plain(item) for item in found], indent=2)


@click.group(invoke_without_command=True)
@connection
@click.option("--json", "as_json", is_flag=True, help="Print the limits as JSON.")
@click.pass_context
def limits(
    ctx: click.Context, config: str | None, dsn: str | None, prefix: str | None, as_json: bool
) -> None:
    """List the rate limits: each key's limits, its current window's usage, its pause.

    REQUESTS and TOKENS count what the current window holds against the limit scaled to
    the window. PAUSED is how long a provider's 429 still holds the key.
    """
    ctx.obj = (config, dsn, prefix)
    if ctx.invoked_subcommand is not None:
        return
    found = call(settings(config, dsn, prefix), lambda oban: _limits.limits(oban=oban))
    if as_json:
        click.echo(_as_json(found))
    elif not found:
        click.echo("No rate limits set: see `baton limits set -h`.")
    else:
        console().print(limits_table(found, datetime.now(UTC)))


def _database(ctx: click.Context) -> tuple[str, str]:
    config, dsn, prefix = ctx.obj
    return settings(config, dsn, prefix)


@limits.command("set")
@click.argument("key")
@click.option("--rpm", type=int, help="Requests per minute (a whole number above 0).")
@click.option("--tpm", type=int, help="Tokens per minute (a whole number above 0).")
@click.option(
    "--window",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds the limits are counted over, each scaled to it.",
)
@click.pass_context
def set_command(
    ctx: click.Context, key: str, rpm: int | None, tpm: int | None, window: float
) -> None:
    """Create or replace the rate limit KEY (a limit left out is no longer limited)."""
    found = call(
        _database(ctx),
        lambda oban: _limits.set_limit(
            key, requests_per_minute=rpm, tokens_per_minute=tpm, window=window, oban=oban
        ),
    )
    console().print(limits_table([found], datetime.now(UTC)))


def _change(ctx: click.Context, key: str, change: Any, done: str) -> None:
    """Run ``change(key, oban=...)``; say ``done`` if the key existed, else fail in one line."""
    if not call(_database(ctx), lambda oban: change(key, oban=oban)):
        raise click.ClickException(f"no rate limit {key!r}")
    click.echo(f"{done} rate limit {clean_line(key)!r}.")


@limits.command("remove")
@click.argument("key")
@click.pass_context
def remove_command(ctx: click.Context, key: str) -> None:
    """Delete the rate limit KEY; workers naming it then run unlimited."""
    _change(ctx, key, _limits.remove_limit, "Removed")


@limits.command("resume")
@click.argument("key")
@click.pass_context
def resume_command(ctx: click.Context, key: str) -> None:
    """End the pause a provider's 429 set on KEY now."""
    _change(ctx, key, _limits.resume_limit, "Resumed")
