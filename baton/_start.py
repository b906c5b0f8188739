"""``baton start``: an Oban instance on Baton's queues, with the stuck-workflow sweep.

Built from Oban's own CLI configuration (``oban.toml``, ``OBAN_*`` variables, flags), so
every option ``oban start`` honours (lifeline, pruner, stager, shutdown grace period…)
applies here too. Stops gracefully on SIGTERM or the first SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import click
from oban.telemetry import logger as telemetry_logger

from . import _oban
from ._sweep import Sweeper

logger = logging.getLogger("baton")

DEFAULT_QUEUES = "default:10,llm:5"
EXIT_INTERRUPTED = 130


def parse_queues(text: str) -> dict[str, int]:
    """``"default:10,llm:2"`` as ``{"default": 10, "llm": 2}``; a malformed pair is an error."""
    queues: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, limit = item.partition(":")
        if not name.strip() or not limit.strip().isdigit() or int(limit) < 1:
            raise click.BadParameter(
                f"expected name:limit pairs such as default:10,llm:2, got {item!r}",
                param_hint="--queues",
            )
        queues[name.strip()] = int(limit)
    return queues


async def run_workers(
    conf: Any,
    prefix: str,
    sweep_interval: float,
    *,
    probe: Callable[[str, str], Awaitable[None]],
) -> None:
    """Run ``conf``'s Oban instance until SIGTERM or SIGINT, then stop it gracefully.

    Args:
        conf: Oban's CLI configuration (``_oban.load_config``), with its queues set.
        prefix: the schema of the tables.
        sweep_interval: seconds between sweeps of ``baton.Sweeper`` (on the leader only).
        probe: checks the database and Baton's tables first, failing in one line.
    """
    await probe(conf.dsn, prefix)
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
        # only while this node is the leader.
        async with oban, Sweeper(oban, interval=sweep_interval):
            queues = ",".join(f"{name}:{limit}" for name, limit in conf.queues.items())
            logger.info(
                "Baton started on node %s (schema %r, queues %s%s); Ctrl+C to stop",
                _oban.node(oban),
                prefix,
                queues,
                f", sweep every {sweep_interval:g} s",
            )
            await stopping.wait()
        logger.info("Baton stopped")
    finally:
        telemetry_logger.detach()
        await pool.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
