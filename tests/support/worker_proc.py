"""A worker process for the multi-process tests.

Run from the project root::

    python -m tests.support.worker_proc --dsn URL --queues default:10 --node w1 \
        [--rescue-after S --lifeline-interval S --leader-interval S] [--import MODULE …]
        [--await-signals]

It starts an Oban instance running the given queues with the workers of
``tests.support.proc_steps``, prints ``READY <node> <pid>`` on stdout once started, and
runs until SIGTERM or SIGINT, then stops Oban gracefully and exits 0. Logs go to stderr.
``--import MODULE`` (repeatable) also imports a module of workers and, if it has a
``use_pool(pool)``, hands it the process's connection pool.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from typing import Any

from oban import Oban
from oban._extensions import put_ext
from oban._leader import build_leader

from tests.support import proc_steps


def parse_queues(specs: list[str]) -> dict[str, int]:
    queues: dict[str, int] = {}
    for spec in specs:
        for item in spec.split(","):
            name, _, limit = item.partition(":")
            queues[name.strip()] = int(limit or 10)
    return queues


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="worker_proc", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--queues", action="append", default=[], help="name:limit[,…]")
    parser.add_argument("--node", default=f"test-worker-{os.getpid()}")
    parser.add_argument("--stager-interval", type=float, default=0.1)
    parser.add_argument("--rescue-after", type=float, default=None)
    parser.add_argument("--lifeline-interval", type=float, default=None)
    parser.add_argument(
        "--leader-interval",
        type=float,
        default=None,
        help="leader election interval and lease (Oban's default: 30 s)",
    )
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="also import this module of workers; call its use_pool(pool) if it has one",
    )
    parser.add_argument(
        "--await-signals",
        action="store_true",
        help="print READY only once the queues LISTEN for signals (cancel_job's pkill)",
    )
    return parser.parse_args(argv)


async def await_signals(oban: Oban, timeout: float = 10.0) -> None:
    """Wait until this process LISTENs on Oban's signal channel.

    Oban 0.7's producers subscribe to signals without waiting for the LISTEN, which its
    notifier issues up to ~0.1 s after start. A ``cancel_job`` of an executing job only
    sends a signal (the row stays ``executing``), so a signal sent in that window is lost
    and the job runs on. Subscribing once more with ``wait=True`` waits for that LISTEN;
    the queues' own subscriptions keep it in place after ours is dropped.
    """
    notifier = oban._notifier
    token = await notifier.listen("signal", lambda _channel, _payload: None, timeout=timeout)
    await notifier.unlisten(token)


def short_leader_lease(interval: float) -> None:
    """Make leadership move quickly after a leader dies.

    Oban 0.7 has no public option for the leader's interval (its lease is the interval, a
    non-leader retries every interval), so a test that kills the leader would wait up to a
    minute for the lifeline to run elsewhere. ``leader.build`` is Oban's extension hook.
    """

    def build(config: dict[str, Any], **kwargs: Any) -> Any:
        return build_leader({**config, "interval": interval}, **kwargs)

    put_ext("leader.build", build)


async def run(args: argparse.Namespace) -> None:
    lifeline: dict[str, float] = {}
    if args.rescue_after is not None:
        lifeline["rescue_after"] = args.rescue_after
    if args.lifeline_interval is not None:
        lifeline["interval"] = args.lifeline_interval
    if args.leader_interval is not None:
        short_leader_lease(args.leader_interval)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    pool = await Oban.create_pool(args.dsn, min_size=2, max_size=args.pool_size)
    try:
        proc_steps.use_pool(pool)
        for name in args.imports:
            module = importlib.import_module(name)
            if callable(getattr(module, "use_pool", None)):
                module.use_pool(pool)
        proc_steps.install_crash_handler()
        oban = Oban(
            pool=pool,
            node=args.node,
            queues=parse_queues(args.queues or ["default:10"]),
            stager={"interval": args.stager_interval},
            lifeline=lifeline or None,
            shutdown_grace_period=5.0,
        )
        async with oban:
            if args.await_signals:
                await await_signals(oban)
            print(f"READY {args.node} {os.getpid()}", flush=True)
            await stopping.wait()
            logging.getLogger("worker_proc").info("%s: stopping", args.node)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {os.getpid()} %(name)s %(levelname)s %(message)s",
    )
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
