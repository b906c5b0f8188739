"""examples/fastapi runs as its README says (``uvicorn app:app``) against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "fastapi"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def example(installed: str, conn: psycopg.AsyncConnection[Any]) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": installed,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=EXAMPLE,
        env=env,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung example
            process.kill()
            process.wait()


async def test_the_fastapi_example(example: str) -> None:
    async with httpx.AsyncClient(base_url=example, timeout=10) as web:
        async with asyncio.timeout(30):  # the app installs the schema and starts Oban first
            while True:
                try:
                    form = await web.get("/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        assert form.status_code == 200 and 'action="/briefs"' in form.text

        for forged in ({"origin": "http://evil.example"}, {"origin": "null"}, {}):
            refused = await web.post("/briefs", data={"topic": "paid"}, headers=forged)
            assert refused.status_code == 403, forged  # a cross-site form starts nothing
        started = await web.post("/briefs", data={"topic": "<queues>"}, headers={"origin": example})
        assert started.status_code == 303
        page_path = started.headers["location"]
        assert page_path.startswith("/baton/workflows/")
        page = await web.get(page_path)
        assert page.status_code == 200
        assert "brief: &lt;queues&gt;" in page.text and "/baton/static/baton.js" in page.text

        api = await web.post(
            "/briefs", json={"topic": "api"}, headers={"accept": "application/json"}
        )
        assert api.status_code == 201
        events_path = api.json()["events"]

        finished: dict[str, Any] | None = None
        kinds: list[str] = []
        async with asyncio.timeout(60), web.stream("GET", events_path) as stream:
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                    kinds.append(event)
                elif line.startswith("data: ") and event == "finished":
                    finished = json.loads(line.removeprefix("data: "))
                    break
    assert kinds[0] == "snapshot" and "step" in kinds
    assert finished is not None and finished["outcome"] == "completed"
    assert finished["workflow_name"] == "brief: api"
