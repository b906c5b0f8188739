"""``baton start`` run from a user's project folder, with the installed ``baton`` command.

The project has its own package (``myapp/workers.py``) and nothing on ``PYTHONPATH``: the
node must find the workers the way the user's own scripts do. Workflows are inserted by a
script of the project, in another process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TIMEOUT = 90.0

WORKERS = """
import baton


@baton.worker(queue="default")
class Fetch:
    async def perform_workflow(self, job):
        return {"text": "hello from " + job.args["url"]}


@baton.worker(queue="default")
class Shout:
    async def perform_workflow(self, job):
        fetched = await baton.get_result(job, "fetch")
        return fetched["text"].upper()
"""

# A worker only the inserting side has: deleted before the node starts.
GONE = """
import baton


@baton.worker(queue="default")
class Gone:
    async def perform_workflow(self, job):
        return "never"
"""

INSERT = """
import asyncio
import os
import sys

import baton
from oban import Oban

from myapp.workers import Fetch, Shout


def workflow(kind):
    if kind == "brief":
        return (
            baton.Workflow(name="brief")
            .add("fetch", Fetch.new({"url": "example.org"}))
            .add("shout", Shout.new(), deps=["fetch"])
        )
    from gone import Gone

    if kind == "unloadable":
        return (
            baton.Workflow(name="unloadable")
            .add("gone", Gone.new())
            .add("after", Fetch.new({"url": "x"}), deps=["gone"])
            .add("last", Shout.new(), deps=["after"])
        )
    # "waiting": a step nobody serves, and a step of an unloadable class waiting for it
    return (
        baton.Workflow(name="waiting")
        .add("first", Fetch.new({"url": "x"}, queue="nobody"))
        .add("then", Gone.new(), deps=["first"])
    )


async def main():
    pool = await Oban.create_pool(os.environ["DATABASE_URL"])
    async with Oban(pool=pool, leadership=False):
        wf = workflow(sys.argv[1])
        await wf.insert()
    await pool.close()
    print(wf.id)


asyncio.run(main())
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: ``myapp/workers.py``, ``gone.py`` and ``insert.py``."""
    root = tmp_path / "project"
    (root / "myapp").mkdir(parents=True)
    (root / "myapp" / "__init__.py").write_text("")
    (root / "myapp" / "workers.py").write_text(textwrap.dedent(WORKERS))
    (root / "gone.py").write_text(textwrap.dedent(GONE))
    (root / "insert.py").write_text(textwrap.dedent(INSERT))
    return root


def user_env(dsn: str) -> dict[str, str]:
    dropped = ("DATABASE_URL", "OBAN_DSN", "OBAN_PREFIX", "PYTHONPATH", "COLUMNS")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["DATABASE_URL"] = dsn
    return env


def run(project: Path, dsn: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=project,
        env=user_env(dsn),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def insert(project: Path, dsn: str, kind: str) -> str:
    done = run(project, dsn, str(BIN / "python"), "insert.py", kind)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextmanager
def node(project: Path, dsn: str, *options: str) -> Iterator[Path]:
    """``baton start`` running in ``project``; yields its log file, stopped on the way out."""
    log_path = project / "start.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "baton"), "start", "--queues", "default:5", *options],
            cwd=project,
            env=user_env(dsn),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield log_path
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, log_path.read_text()


def watch(project: Path, dsn: str, workflow_id: str) -> subprocess.CompletedProcess[str]:
    return run(project, dsn, str(BIN / "baton"), "watch", workflow_id, "--timeout", "60")


def status(project: Path, dsn: str, workflow_id: str) -> dict[str, dict[str, object]]:
    done = run(project, dsn, str(BIN / "baton"), "status", workflow_id, "--json")
    assert done.returncode == 0, done.stderr
    return {step["name"]: step for step in json.loads(done.stdout)["steps"]}


@pytest.mark.parametrize("imports", [("--import", "myapp.workers"), ()], ids=["import", "lazy"])
def test_start_finds_the_projects_workers(
    project: Path, installed: str, imports: tuple[str, ...]
) -> None:
    workflow_id = insert(project, installed, "brief")
    with node(project, installed, *imports) as log:
        watched = watch(project, installed, workflow_id)
    assert watched.returncode == 0, f"{watched.stdout}\n{watched.stderr}\n{log.read_text()}"
    text = log.read_text()
    if imports:
        assert "imported myapp.workers" in text, text
    else:
        assert (
            f"workers are imported by name when a job needs them, from the installed "
            f"packages and {project}"
        ) in text
    assert "WorkerResolutionError" not in text
    steps = status(project, installed, workflow_id)
    assert steps["shout"]["state"] == "completed"


def test_a_step_whose_worker_cannot_load_fails_once_and_the_workflow_ends(
    project: Path, installed: str
) -> None:
    workflow_id = insert(project, installed, "unloadable")
    (project / "gone.py").unlink()  # the node's copy of the project lacks it
    with node(project, installed, "--import", "myapp.workers"):
        watched = watch(project, installed, workflow_id)
    assert watched.returncode == 1, watched.stdout + watched.stderr
    steps = status(project, installed, workflow_id)
    gone = steps["gone"]
    assert (gone["state"], gone["attempt"]) == ("discarded", 1)
    assert gone["error"] == (
        "oban.worker.WorkerResolutionError: Module 'gone' not found for worker 'gone.Gone'"
    )
    for name in ("after", "last"):  # never run: cancelled by the settlement
        assert (steps[name]["state"], steps[name]["attempt"]) == ("cancelled", 0), steps[name]
    assert "dependencies did not complete: gone (discarded)" in str(steps["after"]["error"])


def test_after_cancel_a_waiting_step_of_an_unloadable_class_never_runs(
    project: Path, installed: str
) -> None:
    workflow_id = insert(project, installed, "waiting")
    (project / "gone.py").unlink()
    done = run(project, installed, str(BIN / "baton"), "cancel", workflow_id)
    assert done.returncode == 0, done.stderr
    steps = status(project, installed, workflow_id)
    assert (steps["first"]["state"], steps["first"]["attempt"]) == ("cancelled", 0)
    assert (steps["then"]["state"], steps["then"]["attempt"]) == ("cancelled", 0)
    watched = watch(project, installed, workflow_id)
    assert watched.returncode == 1, watched.stdout
