"""``baton result ID [STEP]``: what a workflow's steps returned, as JSON."""

from __future__ import annotations

import json
from typing import Any

import click
from oban import Oban

from .. import _control, _results, _status
from .._names import suggestion
from ._connection import call, settings
from ._options import WORKFLOW_ID, connection


def missing(current: _status.WorkflowStatus, step: str) -> str:
    """Why ``step`` has no value in the workflow's results: unknown, or not completed."""
    states = {item.name: item.state for item in current.steps}
    groups = {item.group for item in current.steps if item.group is not None}
    if step in states:
        return (
            f"step {step!r} of workflow {current.id!r} has no result: it is {states[step]}, "
            "not completed"
        )
    if step in groups:
        return (
            f"group {step!r} of workflow {current.id!r} has no result: not all its steps completed"
        )
    names = [*states, *sorted(groups)]
    return (
        f"workflow {current.id!r} has no step {step!r}{suggestion(step, names)} "
        f"(steps: {', '.join(names)})"
    )


@click.command()
@WORKFLOW_ID
@click.argument("step", required=False)
@connection
def result(
    workflow_id: str, step: str | None, config: str | None, dsn: str | None, prefix: str | None
) -> None:
    """Print what the workflow's completed steps returned, as JSON by step path.

    With STEP, print that step's (or group's) value alone. Steps that have not completed
    are left out; one that returned nothing is null.
    """

    async def action(oban: Oban) -> tuple[dict[str, Any], _status.WorkflowStatus | None]:
        values = await _results.results(workflow_id, oban=oban)
        if step is None or step in values:
            return values, None
        return values, await _control.status(workflow_id, oban=oban)

    values, current = call(settings(config, dsn, prefix), action)
    if current is not None and step is not None:
        raise click.ClickException(missing(current, step))
    click.echo(json.dumps(values if step is None else values[step], indent=2))
