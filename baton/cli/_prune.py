"""``baton prune``: delete finished workflows older than an age; and durations such as ``7d``.

``DURATION`` reads ``45s``, ``30m``, ``12h``, ``7d`` (or a plain number of seconds, ``0``
included) for ``prune --older-than`` and ``start --prune-after``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from typing import Any

import click

from .. import _prune
from ._connection import call, settings
from ._options import connection

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")


class Duration(click.ParamType[timedelta, Any]):
    """A length of time: a number with an optional unit, s (the default), m, h or d."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        found = _DURATION.fullmatch(text)
        if found is None:
            self.fail(
                f"expected a duration such as 7d, 12h, 30m, 45s or 0, got {value!r}", param, ctx
            )
        seconds = float(found[1]) * UNITS[found[2] or "s"]
        if seconds > _prune.OLDEST.total_seconds():
            self.fail(f"{value!r} is longer than {_prune.OLDEST.days:,} days", param, ctx)
        return timedelta(seconds=seconds)


DURATION = Duration()


def describe(age: timedelta) -> str:
    """``age`` in the largest unit that states it exactly: ``7d``, ``36h``, ``90s``."""
    seconds = age.total_seconds()
    if not seconds:
        return "0s"
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@click.command()
@connection
@click.option(
    "--older-than",
    type=DURATION,
    required=True,
    help="Prune workflows that finished longer ago than this: 7d, 12h, 30m, 45s, or 0 for "
    "every finished workflow.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=_prune.DEFAULT_LIMIT,
    show_default=True,
    help="The most steps deleted per transaction.",
)
@click.option(
    "--pause",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait between batches, giving way to running workflows "
    f"(baton.Pruner waits {_prune.PRUNER_PAUSE:g}).",
)
@click.option(
    "--calls-older-than",
    type=DURATION,
    default=None,
    help="Also delete captured calls older than this, whatever their workflow's state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def prune(
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    older_than: timedelta,
    dry_run: bool,
    limit: int,
    pause: float,
    calls_older_than: timedelta | None,
    as_json: bool,
) -> None:
    """Delete finished workflows older than --older-than, with their steps, edges and jobs.

    Unfinished workflows are never touched. Deletes in batches of whole workflows, each
    its own short transaction.
    """
    report = call(
        settings(config, dsn, prefix),
        lambda oban: _prune.prune(
            older_than,
            oban=oban,
            dry_run=dry_run,
            limit=limit,
            pause=pause,
            calls_older_than=calls_older_than,
        ),
    )
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
        return
    click.echo(summary(report, older_than))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 step``, ``2 steps``; ``nouns`` when the plural is not ``noun`` + s."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def summary(report: _prune.PruneReport, older_than: timedelta) -> str:
    """One line saying what a prune deleted (or, in a dry run, would have)."""
    which = "finished workflow" if not older_than else "workflow"
    when = f" finished more than {describe(older_than)} ago" if older_than else ""
    calls = f" and {plural(report.calls, 'captured call')}" if report.calls else ""
    if not report.workflows and not report.calls:
        return f"Nothing to prune: no {which}{when}."
    if not report.workflows:
        done = "Would prune" if report.dry_run else "Pruned"
        return f"{done} {plural(report.calls, 'captured call')}; no {which}{when}."
    counted = f"{plural(report.workflows, which)}{when}: " + ", ".join(
        plural(count, noun)
        for count, noun in ((report.steps, "step"), (report.edges, "edge"), (report.jobs, "job"))
    )
    if report.dry_run:
        return f"Would prune {counted}{calls} (dry run: nothing deleted)."
    return f"Pruned {counted}{calls} ({plural(report.batches, 'batch', 'batches')})."
