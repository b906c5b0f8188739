"""``baton run``: build a workflow from a template file, insert it, and maybe follow it.

The click command in ``baton/cli.py`` parses the options and the connection settings;
this module turns ``--arg``/``--json-arg`` into params, imports what the template's
workers need, builds the workflow with ``Workflow.from_file`` and inserts it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
from oban import Oban
from rich.console import Console

from . import _terminal
from ._control import WorkflowStatus
from .errors import TemplateError
from .workflow import Workflow


def parse_params(args: Iterable[str], json_args: Iterable[str]) -> dict[str, Any]:
    """The template params ``--arg KEY=VALUE`` (strings) and ``--json-arg KEY=JSON`` give.

    Raises:
        click.BadParameter: an item without ``=`` or a key, a key given twice, or a
            ``--json-arg`` value that is not JSON (a usage error: exit code 2).
    """
    params: dict[str, Any] = {}
    for option, items, as_json in (("--arg", args, False), ("--json-arg", json_args, True)):
        for item in items:
            key, equals, raw = item.partition("=")
            key = key.strip()
            if not equals or not key:
                raise click.BadParameter(
                    f"expected KEY={'JSON' if as_json else 'VALUE'}, got {item!r}",
                    param_hint=f"'{option}'",
                )
            if key in params:
                raise click.BadParameter(
                    f"param {key!r} is given more than once", param_hint=f"'{option}'"
                )
            params[key] = _decode(key, raw) if as_json else raw
    return params


def _decode(key: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise click.BadParameter(
            f"the value of {key!r} is not JSON ({error.msg} at column {error.colno}): {raw!r}; "
            "quote strings, or pass them with --arg",
            param_hint="'--json-arg'",
        ) from None


def import_modules(modules: Iterable[str]) -> None:
    """Import each module, e.g. one that defines or registers workers.

    Raises:
        click.ClickException: a module cannot be imported (one line, exit code 1).
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:
            raise click.ClickException(f"cannot import {module!r}: {_first_line(error)}") from None


def load(path: str, params: dict[str, Any], imports: Sequence[str]) -> Workflow:
    """The workflow the template at ``path`` describes, with its workers importable.

    The current directory goes first on ``sys.path`` (as ``python -m`` puts it), so
    ``myapp.workers.Fetch`` resolves from the project directory; then ``imports`` are
    imported.

    Raises:
        click.ClickException: a module cannot be imported, or the template is invalid;
            one line naming the file and the entry.
    """
    here = os.getcwd()
    if not sys.path or sys.path[0] != here:
        sys.path.insert(0, here)
    import_modules(imports)
    try:
        return Workflow.from_file(path, params=params)
    except TemplateError as error:
        raise click.ClickException(_first_line(error)) from None


async def submit(
    workflow: Workflow,
    oban: Oban,
    *,
    follow: bool,
    dsn: str,
    prefix: str,
    out: Console,
    timeout: float | None,
) -> WorkflowStatus | None:
    """Insert ``workflow`` and print its id; with ``follow``, watch it as ``baton watch``.

    Returns:
        The last status read when following (not finished if ``timeout`` ran out first),
        else None.
    """
    await workflow.insert(oban=oban)
    click.echo(workflow.id)
    if not follow:
        return None
    return await _terminal.watch(
        workflow.id, oban=oban, dsn=dsn, prefix=prefix, out=out, timeout=timeout
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


__all__: Sequence[str] = ["import_modules", "load", "parse_params", "submit"]
