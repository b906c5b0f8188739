"""The commands on stored workflows: list, status, watch, graph, cancel and retry.

Each reads or changes workflows through Baton's public operations (``list_workflows``,
``status``, ``graph``, ``cancel``, ``retry``) with a client-only Oban instance, and prints
a table (rendered by ``_terminal``), JSON, or one line.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import click
from oban import Oban

from .. import _capture, _control, _graph, _results, _status
from . import _calls, _terminal, _watch
from ._connection import call, settings
from ._exits import exit_as_watched
from ._options import TIMEOUT, WORKFLOW_ID, connection
from ._sanitize import clean_line


def _to_json(value: Any) -> str:
    """``value`` as indented JSON, datetimes in ISO 8601 and decimals as strings."""

    def encode(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, Decimal):
            return str(item)
        raise TypeError(f"cannot encode {type(item).__name__}")

    return json.dumps(value, indent=2, default=encode)


@click.command("list")
@connection
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--state", type=click.Choice(_control.WORKFLOW_STATES), help="Only this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    limit: int,
    state: str | None,
    as_json: bool,
) -> None:
    """Recent workflows, newest first: state, steps completed, duration and cost."""
    found = call(
        settings(config, dsn, prefix),
        lambda oban: _control.list_workflows(limit=limit, state=state, oban=oban),
    )
    if as_json:
        click.echo(_to_json([dataclasses.asdict(item) for item in found]))
    elif not found:
        click.echo("No workflows" + (f" in state {state!r}" if state else "") + ".")
    else:
        _terminal.console().print(_terminal.workflows_table(found))


@click.command()
@WORKFLOW_ID
@connection
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--calls", "with_calls", is_flag=True, help="Also show the captured LLM calls.")
def status(
    workflow_id: str,
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    as_json: bool,
    with_calls: bool,
) -> None:
    """A workflow's steps: state, queue, attempts, duration and last error.

    With ``--json``, the status and, under ``results``, what the completed steps returned;
    with ``--calls``, the calls its steps captured (under ``calls`` with ``--json``).
    """

    async def action(
        oban: Oban,
    ) -> tuple[_status.WorkflowStatus, dict[str, Any], list[_capture.CapturedCall]]:
        current = await _control.status(workflow_id, oban=oban)
        values = await _results.results(workflow_id, oban=oban) if as_json else {}
        captured = await _capture.calls(workflow_id, oban=oban) if with_calls else []
        return current, values, captured

    current, values, captured = call(settings(config, dsn, prefix), action)
    if as_json:
        extra = {"calls": [dataclasses.asdict(c) for c in captured]} if with_calls else {}
        click.echo(_to_json({**dataclasses.asdict(current), "results": values, **extra}))
    else:
        _terminal.console().print(_terminal.status_view(current))
        if with_calls:
            _terminal.console().print(_calls.calls_view(captured))


@click.command()
@WORKFLOW_ID
@connection
@TIMEOUT
def watch(
    workflow_id: str,
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    timeout: float | None,
) -> None:
    """Follow a workflow live until it finishes.

    Exits 0 when every step completed, 1 when the workflow failed or was cancelled.
    """
    url, schema = settings(config, dsn, prefix)
    out = _terminal.console()
    final = call(
        (url, schema),
        lambda oban: _watch.watch(
            workflow_id, oban=oban, dsn=url, prefix=schema, out=out, timeout=timeout
        ),
    )
    exit_as_watched(workflow_id, final, timeout)


@click.command()
@WORKFLOW_ID
@connection
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_graph.FORMATS),
    default="mermaid",
    show_default=True,
    help="Mermaid flowchart or Graphviz DOT.",
)
def graph(
    workflow_id: str, config: str | None, dsn: str | None, prefix: str | None, fmt: str
) -> None:
    """Print a workflow's graph, each step's state as its node class."""
    text = call(
        settings(config, dsn, prefix),
        lambda oban: _graph.graph(
            workflow_id, format="dot" if fmt == "dot" else "mermaid", oban=oban
        ),
    )
    click.echo(text, nl=False)


@click.command()
@WORKFLOW_ID
@connection
def cancel(workflow_id: str, config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Cancel every unfinished step of a workflow."""

    async def action(oban: Oban) -> tuple[_status.WorkflowStatus, int]:
        before = await _control.status(workflow_id, oban=oban)
        if before.finished_at is not None:
            return before, 0
        return before, await _control.cancel(workflow_id, oban=oban)

    before, count = call(settings(config, dsn, prefix), action)
    if before.finished_at is not None:
        click.echo(
            f"Workflow {workflow_id!r} already finished ({before.state}): nothing to cancel."
        )
        return
    jobs = "job" if count == 1 else "jobs"
    click.echo(
        f"Cancelled workflow {workflow_id!r}: {count} {jobs} cancelled or signalled now; "
        "waiting steps with on_dep_* callbacks cancel as their deps settle."
    )


@click.command()
@WORKFLOW_ID
@connection
def retry(workflow_id: str, config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Re-run a workflow's cancelled, discarded and deleted steps, and what follows them.

    Completed steps keep their stored results and do not run again.
    """
    names = call(settings(config, dsn, prefix), lambda oban: _control.retry(workflow_id, oban=oban))
    if names:
        steps = "step" if len(names) == 1 else "steps"
        shown = ", ".join(map(clean_line, names))
        click.echo(f"Retrying {len(names)} {steps} of workflow {workflow_id!r}: {shown}")
    else:
        click.echo(
            f"Nothing to retry in workflow {workflow_id!r}: no step was cancelled, discarded "
            "or deleted."
        )
