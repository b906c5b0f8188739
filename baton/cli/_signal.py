"""``baton signal ID STEP [--json PAYLOAD]``: signal a waiting signal step."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import _signal
from ._connection import call, settings
from ._options import WORKFLOW_ID, connection
from ._sanitize import clean_line


def _payload(_context: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """The ``--json`` text parsed, or a usage error saying where it is not JSON."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise click.BadParameter(
            f"not JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            """quote it for the shell, e.g. --json '{"ok": true}'"""
        ) from None


@click.command("signal")
@WORKFLOW_ID
@click.argument("step")
@connection
@click.option(
    "--json",
    "payload",
    metavar="PAYLOAD",
    callback=_payload,
    help="The signal's payload as JSON; it becomes the step's result. Default: none.",
)
def signal_command(
    workflow_id: str,
    step: str,
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    payload: Any,
) -> None:
    """Signal a signal step (Workflow.add_signal): its payload becomes the step's result.

    A signal sent before the step's deps finish is kept and applies when they do. The
    first signal wins; a second one fails, saying when the first came.
    """
    call(
        settings(config, dsn, prefix),
        lambda oban: _signal.signal(workflow_id, step, payload, oban=oban),
    )
    click.echo(f"Signalled step {clean_line(step)!r} of workflow {workflow_id!r}.")
