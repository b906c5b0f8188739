"""How a command ends: its exit codes, and every failure as one line.

A command runs its async part with :func:`run_or_exit`, which turns connection and Baton
errors into one ``Error: …`` line and exit code 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

import click
import psycopg

from .._redact import redact
from .._status import WorkflowStatus
from ..errors import BatonError
from ._terminal import unserved_hint
from ._watch import finished

EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130


def first_line(error: BaseException) -> str:
    """The first line of an error's message (passwords hidden), or its type's name."""
    text = redact(str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run_or_exit[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn connection and Baton errors into one line and exit 1."""
    try:
        return asyncio.run(coroutine)
    except KeyboardInterrupt:
        click.echo("Interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except psycopg.OperationalError as error:
        raise click.ClickException(f"cannot reach the database: {first_line(error)}") from None
    except (BatonError, psycopg.Error, TimeoutError) as error:
        raise click.ClickException(first_line(error)) from None


def exit_as_watched(workflow_id: str, final: WorkflowStatus, timeout: float | None) -> NoReturn:
    """Exit 0 if the workflow completed, 1 if it failed or was cancelled, 124 if unfinished.

    Unfinished, it also says which queues its waiting steps need that no node serves.
    """
    if not finished(final):
        click.echo(f"Error: workflow {workflow_id!r} did not finish within {timeout:g} s", err=True)
        for queue, steps in final.unserved_queues.items():
            click.echo(f"Hint: {unserved_hint(queue, steps)}", err=True)
        sys.exit(EXIT_TIMEOUT)
    sys.exit(0 if final.state == "completed" else 1)
