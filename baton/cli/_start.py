"""``baton start``: an Oban instance on Baton's queues, with the stuck-workflow sweep.

Built from Oban's own CLI configuration (``oban.toml``, ``OBAN_*`` variables, flags), so
every option ``oban start`` honours (lifeline, pruner, stager, shutdown grace period…)
applies here too. Stops gracefully on SIGTERM or the first SIGINT.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import click
from oban.telemetry import logger as telemetry_logger

from .. import _oban
from .._prune import DEFAULT_CALLS_MAX_AGE, DEFAULT_MAX_AGE, Pruner
from .._schedule_template import schedule_template
from .._sweep import Sweeper
from ..errors import BatonError
from ._connection import probe, settings
from ._exits import EXIT_INTERRUPTED, first_line, run_or_exit
from ._options import IMPORTS, connection, import_project_modules
from ._prune import DURATION, describe

logger = logging.getLogger("baton")

DEFAULT_QUEUES = "default:10,llm:5"


def parse_queues(text: str) -> dict[str, int]:
    """``"default:10,llm:2"`` as ``{"default": 10, "llm": 2}``; a malformed pair is an error."""
    queues: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, limit = item.partition(":")
        if not name.strip() or not limit.strip().isdigit():
            raise click.BadParameter(
                f"expected name:limit pairs such as default:10,llm:2, got {item!r}",
                param_hint="--queues",
            )
        if int(limit) < 1:
            raise click.BadParameter(
                f"the limit of queue {name.strip()!r} must be at least 1 (the most jobs it "
                f"runs at once), got {item!r}; leave a queue out to not run it",
                param_hint="--queues",
            )
        queues[name.strip()] = int(limit)
    return queues


@click.command()
@connection
@click.option(
    "--queues",
    help="Comma-separated queue:limit pairs (default: queues in oban.toml or OBAN_QUEUES, "
    f"else {DEFAULT_QUEUES}).",
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
@click.option(
    "--prune-after",
    type=DURATION,
    default=describe(DEFAULT_MAX_AGE),
    show_default=True,
    help="Prune workflows finished longer ago than this (7d, 12h, 30m, 45s), on the leader "
    "(with baton.Pruner).",
)
@click.option(
    "--prune-calls-after",
    type=DURATION,
    default=describe(DEFAULT_CALLS_MAX_AGE),
    show_default=True,
    help="Prune captured calls (baton.capture) older than this, before their workflow.",
)
@click.option("--no-prune", is_flag=True, help="Do not prune finished workflows.")
@click.option(
    "--schedule",
    "schedules",
    multiple=True,
    metavar="FILE",
    help="Build the workflow of this template file at every tick of its [schedule] cron "
    "(repeatable; give every node the same ones). See docs/schedules.md.",
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
    prune_after: timedelta,
    prune_calls_after: timedelta,
    no_prune: bool,
    schedules: tuple[str, ...],
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
    url, schema = settings(config, dsn, prefix)
    conf = _oban.load_config(
        config,
        dsn=url,
        prefix=schema,
        queues=parse_queues(queues) if queues else None,
        node=node,
        pool_min_size=pool_min_size,
        pool_max_size=pool_max_size,
    )
    if not conf.queues:
        conf = dataclasses.replace(conf, queues=parse_queues(DEFAULT_QUEUES))
    imported = import_project_modules(imports)
    for path in schedules:
        try:
            registered = schedule_template(path)
        except BatonError as error:
            raise click.ClickException(first_line(error)) from None
        logger.info("schedule %r: %s, from %s", registered.name, registered.cron, path)
    pruning = None if no_prune else prune_after
    run_or_exit(
        run_workers(conf, schema, sweep_interval, pruning, imported, calls_after=prune_calls_after)
    )


async def run_workers(
    conf: Any,
    prefix: str,
    sweep_interval: float,
    prune_after: timedelta | None,
    imported: Sequence[str] = (),
    *,
    calls_after: timedelta | None = DEFAULT_CALLS_MAX_AGE,
) -> None:
    """Run ``conf``'s Oban instance until SIGTERM or SIGINT, then stop it gracefully.

    Args:
        conf: Oban's CLI configuration (``_oban.load_config``), with its queues set.
        prefix: the schema of the tables.
        sweep_interval: seconds between sweeps of ``baton.Sweeper`` (on the leader only).
        prune_after: the age at which ``baton.Pruner`` prunes finished workflows (on the
            leader only); None runs no pruner.
        imported: the modules imported for ``--import``, logged once the database answers.
        calls_after: the age at which the pruner deletes captured calls.
    """
    await probe(conf.dsn, prefix)
    if imported:
        logger.info("imported %s", ", ".join(imported))
    else:
        logger.info(
            "no --import given: workers are imported by name when a job needs them, "
            "from the installed packages and %s",
            os.getcwd(),
        )
    pool = await conf.create_pool()
    stopping = asyncio.Event()
    interrupts = 0

    def on_signal(signum: signal.Signals) -> None:
        nonlocal interrupts
        if signum == signal.SIGINT:
            interrupts += 1
            if interrupts > 1:
                logger.warning("second SIGINT: exiting without waiting for running jobs")
                os._exit(EXIT_INTERRUPTED)
        logger.info("%s received: stopping after the running jobs", signum.name)
        stopping.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    telemetry_logger.attach()
    try:
        oban = await conf.create_oban(pool)
        # The sweeper settles what no trigger saw (TRUNCATE, disabled triggers); it sweeps
        # only while this node is the leader; so does the pruner.
        async with (
            oban,
            Sweeper(oban, interval=sweep_interval),
            Pruner(oban, max_age=prune_after, calls_max_age=calls_after),
        ):
            queues = ",".join(f"{name}:{limit}" for name, limit in conf.queues.items())
            logger.info(
                "Baton started on node %s (schema %r, queues %s%s, %s); Ctrl+C to stop",
                _oban.node(oban),
                prefix,
                queues,
                f", sweep every {sweep_interval:g} s",
                "no pruning" if prune_after is None else f"prune after {describe(prune_after)}",
            )
            await stopping.wait()
        logger.info("Baton stopped")
    finally:
        telemetry_logger.detach()
        await pool.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
