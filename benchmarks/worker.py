"""A benchmark worker process: one Oban node running ``benchmarks.steps``.

Started by the driver (``benchmarks.procs``), from the project root::

    python -m benchmarks.worker --dsn URL --node bench-1 [--limit 10] [--paused]

It runs the queue ``default`` (limit 10 unless told), prints ``READY <node> <pid>`` once
Oban started, then answers one command per stdin line with one stdout line:

    PING          PONG
    PAUSE         OK            pause the queue on this node (running jobs finish)
    RESUME        OK            resume it
    DUMP          <JSON>        the steps' records since the last DUMP (see benchmarks.steps)
    RSS           <bytes>       resident set size after a full garbage collection
    QUIT          (exits)       also on end of input, SIGTERM or SIGINT

Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys

import psutil
from oban import Oban

from benchmarks import steps


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks.worker", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--node", default=f"bench-{os.getpid()}")
    parser.add_argument("--limit", type=int, default=10, help="queue limit (default 10)")
    parser.add_argument("--pool-size", type=int, default=15)
    parser.add_argument("--paused", action="store_true", help="start with the queue paused")
    return parser.parse_args(argv)


def reply(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def serve(oban: Oban, node: str, stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    process = psutil.Process()
    while not stopping.is_set():
        line = await reader.readline()
        if not line:
            return
        command = line.decode().strip()
        match command:
            case "PING":
                reply("PONG")
            case "PAUSE":
                await oban.pause_queue(steps.QUEUE, node=node)
                reply("OK")
            case "RESUME":
                await oban.resume_queue(steps.QUEUE, node=node)
                reply("OK")
            case "DUMP":
                reply(json.dumps(steps.take_records()))
            case "RSS":
                gc.collect()
                reply(str(process.memory_info().rss))
            case "QUIT":
                return
            case _:
                reply(f"ERROR unknown command {command!r}")


async def run(args: argparse.Namespace) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    pool = await Oban.create_pool(args.dsn, min_size=2, max_size=args.pool_size)
    try:
        oban = Oban(
            pool=pool,
            node=args.node,
            queues={steps.QUEUE: {"limit": args.limit, "paused": args.paused}},
            shutdown_grace_period=5.0,
        )
        async with oban:
            reply(f"READY {args.node} {os.getpid()}")
            server = asyncio.create_task(serve(oban, args.node, stopping))
            stopper = asyncio.create_task(stopping.wait())
            await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (server, stopper):
                task.cancel()
            if server.done() and not server.cancelled() and server.exception():
                raise server.exception()  # type: ignore[misc]
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format=f"%(asctime)s {os.getpid()} %(name)s %(levelname)s %(message)s",
    )
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
