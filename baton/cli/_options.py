"""The options several commands share, and the import of ``--import`` modules."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from ._exits import EXIT_TIMEOUT, first_line

CONFIG = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML configuration file (default: oban.toml when present).",
)
DSN = click.option("--dsn", help="PostgreSQL connection string (default: DATABASE_URL, OBAN_DSN).")
PREFIX = click.option(
    "--prefix", envvar="OBAN_PREFIX", help="Schema of the tables (default: public)."
)
WORKFLOW_ID = click.argument("workflow_id", metavar="ID")
IMPORTS = click.option(
    "--import",
    "imports",
    multiple=True,
    metavar="MODULE",
    help="Import this module first, e.g. one defining workers (repeatable).",
)
TIMEOUT = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help=f"Give up after this many seconds (exit {EXIT_TIMEOUT}).",
)


def connection[F: Callable[..., Any]](command: F) -> F:
    """The ``--config``, ``--dsn`` and ``--prefix`` options."""
    return CONFIG(DSN(PREFIX(command)))


def import_modules(modules: Iterable[str]) -> None:
    """Import each module, e.g. one that defines or registers workers.

    Raises:
        click.ClickException: a module cannot be imported (one line, exit code 1).
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:
            raise click.ClickException(f"cannot import {module!r}: {first_line(error)}") from None


def import_project_modules(modules: Iterable[str]) -> list[str]:
    """Put the current directory on ``sys.path``, last, then import each module.

    So ``myapp.workers`` resolves from the project directory, for ``--import`` and for
    workers resolved by name later, as it does in the user's own scripts. Last, not first:
    a file in the current directory never shadows an installed module of the same name
    (a template or a job names modules; neither may swap one in).

    Returns:
        The modules imported, in order.

    Raises:
        click.ClickException: a module cannot be imported (one line, exit code 1).
    """
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)
    modules = list(modules)
    import_modules(modules)
    return modules
