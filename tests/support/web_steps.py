"""Workers and a live HTTP server for the web view's tests.

Module-level so that Oban resolves the workers by name.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

import baton

GATES: dict[str, asyncio.Event] = {}  # workflow id -> released by the test


@baton.worker(queue="default")
class Gated:
    """Waits until the test releases ``GATES[workflow_id]``, then sleeps ``seconds``."""

    async def perform_workflow(self, job: Any) -> Any:
        async with asyncio.timeout(60):
            await GATES[job.meta["workflow_id"]].wait()
        await asyncio.sleep(job.args.get("seconds", 0))
        return job.args.get("value")


@baton.worker(queue="default")
class Sleepy:
    """Sleeps ``seconds``, then returns ``value`` (with ``llm_usage`` when given)."""

    async def perform_workflow(self, job: Any) -> Any:
        await asyncio.sleep(job.args.get("seconds", 0))
        value = job.args.get("value")
        if "usage" in job.args:
            return {**(value or {}), "llm_usage": job.args["usage"]}
        return value


@asynccontextmanager
async def live_server(app: Any, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (at a free port by default); yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", ws="none", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(15):
            await task
        sock.close()
