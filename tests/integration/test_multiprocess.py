"""Workflows run by several worker processes sharing one database (DESIGN §3 "Where it runs").

Each worker is a subprocess (``tests.support.worker_proc``) running the steps of
``tests.support.proc_steps``; every call of ``perform_workflow`` leaves a row in
``test_calls``. This test process only inserts workflows and reads the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from oban import Oban

from baton import Workflow
from tests.support.db import wait_settled
from tests.support.proc_steps import Crashy, Node

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@dataclass
class Worker:
    node: str
    proc: subprocess.Popen[str]
    stderr_path: Path
    stderr: IO[str]
    pid: int = field(init=False)

    def __post_init__(self) -> None:
        self.pid = self.proc.pid


class Workers:
    """Worker subprocesses of one test; ``close()`` ends every one of them."""

    def __init__(self, dsn: str, logs: Path) -> None:
        self.dsn = dsn
        self.logs = logs
        self.all: list[Worker] = []

    def spawn(self, node: str, extra: Sequence[str] = ()) -> Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(PROJECT), env.get("PYTHONPATH")) if part
        )
        stderr_path = self.logs / f"{node}.stderr"
        stderr = stderr_path.open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.worker_proc",
                "--dsn",
                self.dsn,
                "--queues",
                "default:10",
                "--node",
                node,
                *extra,
            ],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        worker = Worker(node, proc, stderr_path, stderr)
        self.all.append(worker)
        return worker

    async def start(self, nodes: Sequence[str], extra: Sequence[str] = ()) -> list[Worker]:
        """Start the workers side by side and wait until each printed READY."""
        workers = [self.spawn(node, extra) for node in nodes]
        await asyncio.gather(*(self._ready(worker) for worker in workers))
        return workers

    async def _ready(self, worker: Worker) -> None:
        assert worker.proc.stdout is not None
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(worker.proc.stdout.readline), READY_TIMEOUT
            )
        except TimeoutError:
            line = ""
        if not line.startswith("READY"):
            raise AssertionError(
                f"worker {worker.node} did not start (exit code {worker.proc.poll()}, "
                f"stdout {line!r}); stderr:\n{worker.stderr_path.read_text()}"
            )

    async def first_exit(self, timeout: float) -> Worker:
        """The first worker to exit on its own, polled until ``timeout``."""
        async with asyncio.timeout(timeout):
            while True:
                for worker in self.all:
                    if worker.proc.poll() is not None:
                        return worker
                await asyncio.sleep(0.05)

    @property
    def pids(self) -> set[int]:
        return {worker.pid for worker in self.all}

    async def close(self) -> None:
        """SIGTERM every worker still running, SIGKILL those that do not stop in time."""
        for worker in self.all:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.all:
            try:
                await asyncio.to_thread(worker.proc.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                await asyncio.to_thread(worker.proc.wait)
            if worker.proc.stdout is not None:
                worker.proc.stdout.close()
            worker.stderr.close()

    def report(self) -> str:
        parts = []
        for worker in self.all:
            parts.append(
                f"----- worker {worker.node} (pid {worker.pid}, exit code "
                f"{worker.proc.returncode}) stderr -----\n{worker.stderr_path.read_text()}"
            )
        return "\n".join(parts)


@asynccontextmanager
async def workers(dsn: str, logs: Path) -> AsyncIterator[Workers]:
    """Worker processes that are always ended; their stderr is printed if the body fails."""
    group = Workers(dsn, logs)
    try:
        yield group
    except BaseException:
        with suppress(Exception):
            await group.close()
        print(group.report())
        raise
    finally:
        await group.close()


async def rows(conn: psycopg.AsyncConnection[Any], query: str, params: Any = None) -> list[Any]:
    return await (await conn.execute(query, params)).fetchall()


async def settle(conn: psycopg.AsyncConnection[Any], workflow_id: str, timeout: float) -> None:
    """wait_settled, failing with the workflow's job states when it times out."""
    try:
        await wait_settled(conn, workflow_id, timeout=timeout)
    except TimeoutError:
        states = await rows(
            conn,
            "SELECT j.state::text, count(*), coalesce(sum((j.meta->>'snoozed')::int), 0) "
            "FROM baton_steps s LEFT JOIN oban_jobs j ON j.id = s.job_id "
            "WHERE s.workflow_id = %s GROUP BY 1 ORDER BY 1",
            (workflow_id,),
        )
        called = await rows(
            conn,
            "SELECT pid, count(*) FROM test_calls WHERE workflow_id = %s GROUP BY pid",
            (workflow_id,),
        )
        # No step rows at all means another test session reset the shared database.
        raise AssertionError(
            f"workflow {workflow_id} did not settle in {timeout}s; (job state, steps, "
            f"snoozes): {states}; (pid, calls): {called}"
        ) from None


def random_dag(seed: int) -> tuple[Workflow, dict[str, list[str]], dict[str, list[str]]]:
    """A 200-step workflow: 190 steps and a 10-member group, each with 0-3 earlier deps.

    Returns the workflow, each step's declared deps, and each step's deps expanded to steps.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible graph, not a secret
    wf = Workflow(name="random-dag")
    declared: dict[str, list[str]] = {}
    candidates: list[str] = []
    group, group_at, group_size = "fan", 60, 10
    members = [f"{group}[{index}]" for index in range(group_size)]

    def pick(count: int) -> list[str]:
        # Mostly recent steps, for long chains; sometimes any earlier one, for wide joins.
        pool = candidates[-15:] if rng.random() < 0.7 else candidates
        return rng.sample(pool, min(count, len(pool)))

    for index in range(190):
        if index == group_at:
            deps = pick(rng.randint(1, 3))
            wf.add_many(group, [Node.new({}) for _ in members], deps=deps)
            declared.update((member, deps) for member in members)
            candidates.append(group)
        name = f"s{index:03d}"
        deps = pick(rng.randint(0, 3))
        if index == group_at:  # the step right after the group always joins it
            deps = [group, *(dep for dep in deps if dep != group)][:3]
        wf.add(name, Node.new({}), deps=deps)
        declared[name] = deps
        candidates.append(name)

    expanded = {
        step: [member for dep in deps for member in (members if dep == group else [dep])]
        for step, deps in declared.items()
    }
    assert len(declared) == 200
    assert any(group in deps for step, deps in declared.items() if step not in members)
    return wf, declared, expanded


@pytest.mark.timeout(180)
async def test_random_dag_runs_once_per_step_in_dependency_order_across_processes(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    wf, declared, expanded = random_dag(seed=20_240_611)

    async with workers(installed, tmp_path) as group:
        await group.start(["dag-0", "dag-1", "dag-2"])
        await wf.insert()
        await settle(conn, wf.id, timeout=90)

        steps = {
            name: (outcome, result, settled_at, state, completed_at)
            for name, outcome, result, settled_at, state, completed_at in await rows(
                conn,
                "SELECT s.name, s.outcome, s.result, s.settled_at, j.state::text, j.completed_at "
                "FROM baton_steps s LEFT JOIN oban_jobs j ON j.id = s.job_id "
                "WHERE s.workflow_id = %s",
                (wf.id,),
            )
        }
        assert set(steps) == set(declared)
        not_completed = {
            name: (outcome, state)
            for name, (outcome, _, _, state, _) in steps.items()
            if outcome != "completed" or state != "completed"
        }
        assert not_completed == {}

        # Every step ran exactly once.
        ran = await rows(
            conn,
            "SELECT step, count(*), min(started_at), min(pid) FROM test_calls "
            "WHERE workflow_id = %s GROUP BY step",
            (wf.id,),
        )
        counts = {step: count for step, count, _, _ in ran}
        assert set(counts) == set(declared)
        assert {step: count for step, count in counts.items() if count != 1} == {}
        started = {step: started_at for step, _, started_at, _ in ran}

        # No step started before each of its deps had completed (all times are UTC).
        early = [
            (step, dep, started[step], steps[dep][2], steps[dep][4])
            for step, deps in expanded.items()
            for dep in deps
            if not (started[step] > steps[dep][2] and started[step] > steps[dep][4])
        ]
        assert early == [], "(step, dep, step started, dep settled, dep job completed)"

        # Each step read the results of exactly its declared deps.
        members = {dep: [f"{dep}[{i}]" for i in range(10)] for dep in ("fan",)}
        wrong = {
            name: result
            for name, (_, result, _, _, _) in steps.items()
            if result
            != {
                "value": {
                    "step": name,
                    "read": {dep: members.get(dep, dep) for dep in declared[name]},
                }
            }
        }
        assert wrong == {}

        pids = {
            pid
            for (pid,) in await rows(
                conn, "SELECT DISTINCT pid FROM test_calls WHERE workflow_id = %s", (wf.id,)
            )
        }
        assert pids <= group.pids
        assert len(pids) > 1, f"only pids {pids} did work"

        # Activation is event-driven: no step had to snooze while its deps finished, and no
        # step needed a second attempt.
        [(snoozed_jobs, snoozes, retried)] = await rows(
            conn,
            "SELECT count(*) FILTER (WHERE meta ? 'snoozed'), "
            "coalesce(sum((meta->>'snoozed')::int), 0), count(*) FILTER (WHERE attempt <> 1) "
            "FROM oban_jobs WHERE meta->>'workflow_id' = %s",
            (wf.id,),
        )
        print(f"random DAG: pids {sorted(pids)}; {snoozed_jobs} jobs snoozed {snoozes} times")
        assert (snoozed_jobs, snoozes) == (0, 0), f"{snoozed_jobs} jobs snoozed {snoozes} times"
        assert retried == 0


@pytest.mark.timeout(180)
async def test_step_killed_after_storing_its_result_is_rescued_without_running_again(
    installed: str, calls: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    conn = calls
    # The lifeline rescues jobs executing for over 2 s (every 0.5 s); a 1 s leader lease
    # lets a surviving process take over the lifeline quickly if the leader is the one killed.
    extra = ["--rescue-after", "2", "--lifeline-interval", "0.5", "--leader-interval", "1"]
    wf = (
        Workflow(name="crash")
        .add("a", Node.new({}))
        .add("crashy", Crashy.new({"crash": True}), deps=["a"])
        .add("c", Node.new({}), deps=["crashy"])
    )

    async with workers(installed, tmp_path) as group:
        await group.start(["crash-0", "crash-1"], extra)
        await wf.insert()

        victim = await group.first_exit(timeout=60)
        killed = time.monotonic()
        assert victim.proc.returncode == -signal.SIGKILL, (
            f"{victim.node} exited with {victim.proc.returncode}, not by SIGKILL"
        )
        # The result was stored before the kill, and Oban never acked the job.
        [(performed, result, outcome, state, attempt)] = await rows(
            conn,
            "SELECT s.performed_at IS NOT NULL, s.result, s.outcome, j.state::text, j.attempt "
            "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id "
            "WHERE s.workflow_id = %s AND s.name = 'crashy'",
            (wf.id,),
        )
        assert performed
        assert result == {"value": {"step": "crashy", "read": {"a": "a"}}}
        # Still executing as far as the database knows, until the lifeline rescues it (on a
        # slow machine that, and even the retry, may already have happened).
        assert (state, attempt, outcome) in {
            ("executing", 1, None),
            ("available", 1, None),
            ("executing", 2, None),
            ("completed", 2, "completed"),
        }

        await group.start(["crash-2"], extra)  # a replacement for the killed process
        await settle(conn, wf.id, timeout=90)
        print(
            f"crash: {victim.node} killed; workflow settled {time.monotonic() - killed:.2f}s later"
        )

        outcomes = dict(
            await rows(
                conn,
                "SELECT name, outcome FROM baton_steps WHERE workflow_id = %s",
                (wf.id,),
            )
        )
        assert outcomes == {"a": "completed", "crashy": "completed", "c": "completed"}

        ran = await rows(
            conn,
            "SELECT step, pid, started_at FROM test_calls WHERE workflow_id = %s ORDER BY step",
            (wf.id,),
        )
        assert [step for step, _, _ in ran] == ["a", "c", "crashy"]
        calls_by_step = {step: (pid, started_at) for step, pid, started_at in ran}
        # crashy's one and only call ran in the process that was killed.
        assert calls_by_step["crashy"][0] == victim.pid

        [(state, attempt, meta, completed_at)] = await rows(
            conn,
            "SELECT j.state::text, j.attempt, j.meta, j.completed_at "
            "FROM baton_steps s JOIN oban_jobs j ON j.id = s.job_id "
            "WHERE s.workflow_id = %s AND s.name = 'crashy'",
            (wf.id,),
        )
        assert (state, attempt, meta.get("rescued")) == ("completed", 2, 1)

        # c ran once, after the retried crashy completed, and read crashy's stored result.
        assert calls_by_step["c"][1] > completed_at
        [(c_result,)] = await rows(
            conn,
            "SELECT result FROM baton_steps WHERE workflow_id = %s AND name = 'c'",
            (wf.id,),
        )
        assert c_result == {"value": {"step": "c", "read": {"crashy": "crashy"}}}
