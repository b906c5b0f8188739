"""``baton run``: build a workflow from a template file, insert it, and maybe follow it.

Turns ``--arg``/``--json-arg`` into params, imports what the template's workers need,
builds the workflow with ``Workflow.from_file`` and inserts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click
from oban import Oban
from rich.console import Console

from .._status import WorkflowStatus
from ..errors import TemplateError
from ..workflow import Workflow
from . import _terminal, _watch
from ._connection import call, settings
from ._exits import exit_as_watched, first_line
from ._options import IMPORTS, TIMEOUT, connection, import_project_modules


@click.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@connection
@click.option(
    "--arg",
    "args",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template param, as a string (repeatable).",
)
@click.option(
    "--json-arg",
    "json_args",
    multiple=True,
    metavar="KEY=JSON",
    help="A template param given as JSON: a number, a list, an object… (repeatable).",
)
@IMPORTS
@click.option(
    "--watch", "follow", is_flag=True, help="Follow the workflow until it finishes, as watch does."
)
@TIMEOUT
def run_command(
    file: str,
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    args: tuple[str, ...],
    json_args: tuple[str, ...],
    imports: tuple[str, ...],
    follow: bool,
    timeout: float | None,
) -> None:
    """Insert a workflow from a JSON or TOML template file and print its id.

    Workers resolve from the installed packages, then the current directory. The template
    is trusted like code: its worker paths are imported. With --watch, follow
    the workflow as `baton watch` does, with the same exit codes.
    """
    if timeout is not None and not follow:
        raise click.UsageError("--timeout applies to --watch: add --watch")
    params = _parse_params(args, json_args)
    url, schema = settings(config, dsn, prefix)
    workflow = _load(file, params, imports)
    out = _terminal.console()
    final = call(
        (url, schema),
        lambda oban: _submit(
            workflow, oban, follow=follow, dsn=url, prefix=schema, out=out, timeout=timeout
        ),
    )
    if final is not None:
        exit_as_watched(workflow.id, final, timeout)


def _parse_params(args: Iterable[str], json_args: Iterable[str]) -> dict[str, Any]:
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


def _load(path: str, params: dict[str, Any], imports: Sequence[str]) -> Workflow:
    """The workflow the template at ``path`` describes, with its workers importable.

    The current directory is appended to ``sys.path`` (last, so that it cannot shadow an
    installed module), so ``myapp.workers.Fetch`` resolves from the project directory;
    then ``imports`` are imported.

    Raises:
        click.ClickException: a module cannot be imported, or the template is invalid;
            one line naming the file and the entry.
    """
    import_project_modules(imports)
    try:
        return Workflow.from_file(path, params=params)
    except TemplateError as error:
        raise click.ClickException(first_line(error)) from None


async def _submit(
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
    return await _watch.watch(
        workflow.id, oban=oban, dsn=dsn, prefix=prefix, out=out, timeout=timeout
    )
