"""A newcomer's first hour, scripted: a project folder with its own package, ``baton
install``, ``baton start`` in that folder, an insert from another process that runs no
queues, ``baton watch`` and ``baton result`` — every step a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import psycopg

WORKERS = '''
"""The project's workers."""

import baton


@baton.worker(queue="default")
class Fetch:
    async def perform_workflow(self, job):
        return {"text": f"notes on {job.args['topic']}"}


@baton.worker(queue="default")
class Shout:
    async def perform_workflow(self, job):
        fetched = await baton.get_result(job, "fetch")
        return fetched["text"].upper()
'''

INSERT = '''
"""Insert a workflow from a process that runs no queues (a web app, a script)."""

import asyncio
import os

from oban import Oban

import baton
from myapp.workers import Fetch, Shout


async def main():
    pool = await Oban.create_pool(os.environ["DATABASE_URL"])
    try:
        client = Oban(pool=pool, leadership=False)  # no queues: it only inserts
        workflow = (
            baton.Workflow(name="first")
            .add("fetch", Fetch.new({"topic": "queues"}))
            .add("shout", Shout.new(), deps=["fetch"])
        )
        await workflow.insert(oban=client)
        print(workflow.id)
    finally:
        await pool.close()


asyncio.run(main())
'''


def project(root: Path) -> Path:
    """A project folder: ``myapp/`` with two Baton workers, and ``insert.py``."""
    (root / "myapp").mkdir(parents=True)
    (root / "myapp" / "__init__.py").write_text("")
    (root / "myapp" / "workers.py").write_text(textwrap.dedent(WORKERS))
    (root / "insert.py").write_text(textwrap.dedent(INSERT))
    return root


def environment(dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OBAN_DSN", "PYTHONPATH")}
    env["DATABASE_URL"] = dsn
    env.pop("COLUMNS", None)
    return env  # no PYTHONPATH: `baton start` finds the project's package from its folder


async def execute(
    folder: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_newcomers_project_runs_end_to_end(
    tmp_path: Path, installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    folder = project(tmp_path / "project")
    env = environment(installed)
    baton_cli = (sys.executable, "-m", "baton")

    code, out, err = await execute(folder, env, *baton_cli, "install")
    assert code == 0, err
    assert "installed" in out

    worker = await asyncio.create_subprocess_exec(
        *baton_cli,
        "start",
        "--queues",
        "default:10",
        "--import",
        "myapp.workers",
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert worker.stderr is not None
        async with asyncio.timeout(30):
            started = ""
            while "Baton started" not in started:
                line = await worker.stderr.readline()
                assert line, f"baton start ended before starting: {started}"
                started += line.decode()

        code, out, err = await execute(folder, env, sys.executable, "insert.py")
        assert code == 0, err
        workflow_id = out.strip()

        code, out, err = await execute(
            folder, env, *baton_cli, "watch", workflow_id, "--timeout", "60"
        )
        assert code == 0, out + err
        assert "completed · 2/2 steps completed" in out

        code, out, err = await execute(folder, env, *baton_cli, "result", workflow_id)
        assert code == 0, err
        assert json.loads(out) == {
            "fetch": {"text": "notes on queues"},
            "shout": "NOTES ON QUEUES",
        }
        code, out, err = await execute(folder, env, *baton_cli, "result", workflow_id, "shout")
        assert (code, json.loads(out)) == (0, "NOTES ON QUEUES"), err
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await worker.wait()
    assert worker.returncode == 0
