"""The ``baton`` command line.

``install`` and ``demo``; ``start`` runs workers; ``run`` inserts a workflow from a
template file; ``list``, ``status``, ``watch`` and ``graph`` show workflows; ``cancel``
and ``retry`` change them; ``web`` serves the web view.

Connection settings follow the ``oban`` CLI: ``--dsn``, else ``DATABASE_URL``, else
``OBAN_DSN``, else ``dsn`` in ``oban.toml`` (or the file given with ``--config``); the
schema is ``--prefix``, else ``OBAN_PREFIX``, else ``prefix`` in the file, else ``public``.
Every failure prints one line (``Error: …``) and exits non-zero, never a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

import click
import psycopg
from oban import Oban
from psycopg_pool import AsyncConnectionPool

from . import _control, _graph, _oban, _schema, _start, _terminal
from ._control import WorkflowStatus
from ._database import embedded_postgres
from ._run import import_modules, load, parse_params, submit
from .errors import BatonError, SchemaError

EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = _start.EXIT_INTERRUPTED
CLI_INSTANCE = "baton-cli"

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


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn connection and Baton errors into one line and exit 1."""
    try:
        return asyncio.run(coroutine)
    except KeyboardInterrupt:
        click.echo("Interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except psycopg.OperationalError as error:
        raise click.ClickException(f"cannot reach the database: {_first_line(error)}") from None
    except (BatonError, psycopg.Error, TimeoutError) as error:
        raise click.ClickException(_first_line(error)) from None


def _settings(config: str | None, dsn: str | None, prefix: str | None) -> tuple[str, str]:
    url, schema = _oban.load_settings(config, dsn or os.environ.get("DATABASE_URL"), prefix)
    if not url:
        raise click.UsageError(
            "no database given: pass --dsn or set DATABASE_URL or OBAN_DSN (or dsn in oban.toml)"
        )
    return url, schema


async def _probe(url: str, prefix: str) -> None:
    """Fail fast, in one line, when the database is unreachable or lacks Baton's tables."""
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
        version = await _schema.installed_version(conn, prefix)
    if version is None:
        raise SchemaError(f"Baton is not installed in schema {prefix!r}: run baton install")
    if version < _schema.SCHEMA_VERSION:
        raise SchemaError(
            f"Baton's tables in schema {prefix!r} are at version {version}, this Baton needs "
            f"{_schema.SCHEMA_VERSION}: run baton install"
        )


@asynccontextmanager
async def _client(url: str, prefix: str) -> AsyncIterator[Oban]:
    """A client-only Oban instance (no queues, no leadership) on the database."""
    await _probe(url, prefix)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(url, min_size=1, max_size=4, open=False)
    await pool.open(wait=True, timeout=10)
    try:
        yield Oban(pool=pool, name=CLI_INSTANCE, prefix=prefix, leadership=False)
    finally:
        await pool.close()


def _call[T](settings: tuple[str, str], action: Callable[[Oban], Awaitable[T]]) -> T:
    """Run ``action`` with a client on the database given by ``settings``."""

    async def run() -> T:
        async with _client(*settings) as oban:
            return await action(oban)

    return _run(run())


def _to_json(value: Any) -> str:
    def encode(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, Decimal):
            return str(item)
        raise TypeError(f"cannot encode {type(item).__name__}")

    return json.dumps(value, indent=2, default=encode)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="baton-workflows", prog_name="baton")
def main() -> None:
    """Baton: DAG workflows for Oban for Python."""


@main.command()
@connection
def install(config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Install or upgrade Oban's and Baton's tables (idempotent)."""
    url, schema = _settings(config, dsn, prefix)
    version = _run(_schema.install(url, prefix=schema))
    click.echo(f"Baton schema version {version} installed in schema {schema!r}")


@main.command()
@DSN
@click.option("--topic", default="Baton", show_default=True, help="What the brief is about.")
def demo(dsn: str | None, topic: str) -> None:
    """Run a sample research-brief workflow and print its steps as they change.

    Uses --dsn or DATABASE_URL when given; otherwise starts an embedded PostgreSQL in a
    temporary directory and deletes it afterwards.
    """
    from . import _demo

    url = dsn or os.environ.get("DATABASE_URL")
    if url:
        click.echo("Using the database from " + ("--dsn" if dsn else "DATABASE_URL"))
        completed = _run(_demo.run(url, click.echo, topic))
    else:
        try:
            server = embedded_postgres("baton-demo")
        except BatonError as error:
            raise click.ClickException(str(error)) from None
        click.echo("No DATABASE_URL: starting an embedded PostgreSQL…")
        with server as url:
            completed = _run(_demo.run(url, click.echo, topic))
    sys.exit(0 if completed else 1)


@main.command()
@connection
@click.option(
    "--queues",
    help="Comma-separated queue:limit pairs (default: queues in oban.toml or OBAN_QUEUES, "
    f"else {_start.DEFAULT_QUEUES}).",
)
@click.option("--node", help="Node name, unique per process (default: host name and pid).")
@click.option("--pool-min-size", type=click.IntRange(min=1), help="Fewest connections (default 1).")
@click.option("--pool-max-size", type=click.IntRange(min=1), help="Most connections (default 10).")
@click.option(
    "--sweep-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds between sweeps for stuck workflows, on the leader (with baton.Sweeper).",
)
@IMPORTS
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
def start(
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    queues: str | None,
    node: str | None,
    pool_min_size: int | None,
    pool_max_size: int | None,
    sweep_interval: float,
    imports: tuple[str, ...],
    log_level: str,
) -> None:
    """Run workers: an Oban instance on Baton's queues, plus the stuck-workflow sweep.

    Options, variables and oban.toml as for `oban start`. SIGTERM or the first Ctrl+C
    stops taking jobs and waits for the running ones (Oban's shutdown grace period); a
    second Ctrl+C exits at once.
    """
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    url, schema = _settings(config, dsn, prefix)
    conf = _oban.load_config(
        config,
        dsn=url,
        prefix=schema,
        queues=_start.parse_queues(queues) if queues else None,
        node=node,
        pool_min_size=pool_min_size,
        pool_max_size=pool_max_size,
    )
    if not conf.queues:
        conf = dataclasses.replace(conf, queues=_start.parse_queues(_start.DEFAULT_QUEUES))
    import_modules(imports)
    _run(_start.run_workers(conf, schema, sweep_interval, probe=_probe))


@main.command("list")
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
    found = _call(
        _settings(config, dsn, prefix),
        lambda oban: _control.list_workflows(limit=limit, state=state, oban=oban),
    )
    if as_json:
        click.echo(_to_json([dataclasses.asdict(item) for item in found]))
    elif not found:
        click.echo("No workflows" + (f" in state {state!r}" if state else "") + ".")
    else:
        _terminal.console().print(_terminal.workflows_table(found))


@main.command()
@WORKFLOW_ID
@connection
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(
    workflow_id: str, config: str | None, dsn: str | None, prefix: str | None, as_json: bool
) -> None:
    """A workflow's steps: state, attempts, duration and last error."""
    current = _call(
        _settings(config, dsn, prefix), lambda oban: _control.status(workflow_id, oban=oban)
    )
    if as_json:
        click.echo(_to_json(dataclasses.asdict(current)))
    else:
        _terminal.console().print(_terminal.status_view(current))


@main.command()
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
    url, schema = _settings(config, dsn, prefix)
    out = _terminal.console()
    final = _call(
        (url, schema),
        lambda oban: _terminal.watch(
            workflow_id, oban=oban, dsn=url, prefix=schema, out=out, timeout=timeout
        ),
    )
    _exit_as_watched(workflow_id, final, timeout)


def _exit_as_watched(workflow_id: str, final: WorkflowStatus, timeout: float | None) -> NoReturn:
    """Exit 0 if the workflow completed, 1 if it failed or was cancelled, 124 if unfinished."""
    if not _terminal.finished(final):
        click.echo(f"Error: workflow {workflow_id!r} did not finish within {timeout:g} s", err=True)
        sys.exit(EXIT_TIMEOUT)
    sys.exit(0 if final.state == "completed" else 1)


@main.command("run")
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

    Workers resolve from the current directory, as with `python -m`. With --watch, follow
    the workflow as `baton watch` does, with the same exit codes.
    """
    if timeout is not None and not follow:
        raise click.UsageError("--timeout applies to --watch: add --watch")
    params = parse_params(args, json_args)
    url, schema = _settings(config, dsn, prefix)
    workflow = load(file, params, imports)
    out = _terminal.console()
    final = _call(
        (url, schema),
        lambda oban: submit(
            workflow, oban, follow=follow, dsn=url, prefix=schema, out=out, timeout=timeout
        ),
    )
    if final is not None:
        _exit_as_watched(workflow.id, final, timeout)


@main.command()
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
    text = _call(
        _settings(config, dsn, prefix),
        lambda oban: _graph.graph(
            workflow_id, format="dot" if fmt == "dot" else "mermaid", oban=oban
        ),
    )
    click.echo(text, nl=False)


@main.command()
@WORKFLOW_ID
@connection
def cancel(workflow_id: str, config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Cancel every unfinished step of a workflow."""

    async def action(oban: Oban) -> tuple[_control.WorkflowStatus, int]:
        before = await _control.status(workflow_id, oban=oban)
        if before.finished_at is not None:
            return before, 0
        return before, await _control.cancel(workflow_id, oban=oban)

    before, count = _call(_settings(config, dsn, prefix), action)
    if before.finished_at is not None:
        click.echo(
            f"Workflow {workflow_id!r} already finished ({before.state}): nothing to cancel."
        )
        return
    jobs = "job" if count == 1 else "jobs"
    click.echo(
        f"Cancelled workflow {workflow_id!r}: {count} {jobs} cancelled or signalled now; "
        "steps waiting for their deps cancel as those settle."
    )


@main.command()
@WORKFLOW_ID
@connection
def retry(workflow_id: str, config: str | None, dsn: str | None, prefix: str | None) -> None:
    """Re-run a workflow's cancelled, discarded and deleted steps, and what follows them.

    Completed steps keep their stored results and do not run again.
    """
    names = _call(
        _settings(config, dsn, prefix), lambda oban: _control.retry(workflow_id, oban=oban)
    )
    if names:
        steps = "step" if len(names) == 1 else "steps"
        click.echo(f"Retrying {len(names)} {steps} of workflow {workflow_id!r}: {', '.join(names)}")
    else:
        click.echo(
            f"Nothing to retry in workflow {workflow_id!r}: no step was cancelled, discarded "
            "or deleted."
        )


@main.command()
@connection
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--token",
    envvar="BATON_WEB_TOKEN",
    help="Require this token from clients (needed beyond loopback; env BATON_WEB_TOKEN).",
)
@click.option(
    "--allow-insecure",
    is_flag=True,
    help="Listen beyond loopback without a token (something else must guard it).",
)
def web(
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    host: str,
    port: int,
    token: str | None,
    allow_insecure: bool,
) -> None:
    """Serve the live web view of the workflows."""
    if importlib.util.find_spec("baton.web") is None:
        raise click.ClickException("the web view (baton.web) is not part of this installation")
    try:
        from . import web as view
    except ImportError as error:
        raise click.ClickException(
            f"the web view needs the 'web' extra: pip install 'baton-workflows[web]' "
            f"({_first_line(error)})"
        ) from None
    url, schema = _settings(config, dsn, prefix)

    async def run() -> None:
        await _probe(url, schema)
        await view.serve(
            host, port, token=token, dsn=url, prefix=schema, allow_insecure=allow_insecure
        )

    _run(run())
