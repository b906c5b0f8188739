"""The bad-input catalog (docs/bad-inputs.md): each bad input gets a clear error or a defined
outcome, and nothing already stored is lost.

Every test starts with a *keeper*: a finished workflow with stored results. A rejected input
must leave every table exactly as it was; an accepted one must leave the keeper as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Job, Oban
from oban.testing import drain_queue
from psycopg import sql

import baton
from baton import StepEvent, Workflow, WorkflowFinished, store
from baton.errors import (
    DependencyCycle,
    DuplicateStep,
    EmptyWorkflow,
    InvalidStep,
    InvalidStepName,
    SchemaError,
    SelfDependency,
    UnknownDependency,
    UnknownWorkflow,
    WorkflowError,
)
from tests.support import event_steps as es
from tests.support.db import wait_settled, wait_until
from tests.support.steps import Echo, Outcome, Returns

ROOT = Path(__file__).parents[2]

# --- workers and helpers -------------------------------------------------------------------

SLOW_CALLS: Counter[tuple[str, str]] = Counter()


@baton.worker(queue="default", max_attempts=2)
class Loud:
    """Raises ``RuntimeError(message)`` on every attempt."""

    async def perform_workflow(self, job: Any) -> Any:
        raise RuntimeError(job.args["message"])


@baton.worker(queue="default", max_attempts=3)
class Slow:
    """Sleeps a little, then returns its step name; counts its calls."""

    async def perform_workflow(self, job: Any) -> Any:
        SLOW_CALLS[(job.meta["workflow_id"], job.meta["workflow_step"])] += 1
        await asyncio.sleep(job.args.get("sleep", 0.05))
        return {"step": job.meta["workflow_step"]}


async def drain(instance: Oban) -> dict[str, int]:
    return await drain_queue(queue="default", oban=instance, with_scheduled=True, with_safety=True)


TABLES = {
    "baton_workflows": "id",
    "baton_steps": "job_id",
    "baton_edges": "workflow_id, upstream, downstream",
    "baton_versions": "version",
    "oban_jobs": "id",
}


async def dump(conn: psycopg.AsyncConnection[Any]) -> dict[str, list[Any]]:
    """Every row of Baton's tables and of oban_jobs, as JSON."""
    found = {}
    for table, order in TABLES.items():
        query = sql.SQL("SELECT to_jsonb(t) FROM {} t ORDER BY {}").format(
            sql.Identifier(table), sql.SQL(order)
        )
        found[table] = [row[0] for row in await (await conn.execute(query)).fetchall()]
    return found


async def stored(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, list[Any]]:
    """One workflow's rows: its workflow row, steps, edges and jobs, as JSON."""
    queries = {
        "workflow": "SELECT to_jsonb(w) FROM baton_workflows w WHERE id = %(id)s",
        "steps": "SELECT to_jsonb(s) FROM baton_steps s WHERE workflow_id = %(id)s ORDER BY job_id",
        "edges": "SELECT to_jsonb(e) FROM baton_edges e WHERE workflow_id = %(id)s "
        "ORDER BY upstream, downstream",
        "jobs": "SELECT to_jsonb(j) FROM oban_jobs j JOIN baton_steps s ON s.job_id = j.id "
        "WHERE s.workflow_id = %(id)s ORDER BY j.id",
    }
    return {
        key: [row[0] for row in await (await conn.execute(query, {"id": workflow_id})).fetchall()]
        for key, query in queries.items()
    }


async def stored_result(client: Oban, workflow_id: str, step: str) -> tuple[bool, Any] | None:
    """Whether ``step`` performed and the value it stored, as Baton's store reads them."""
    found = await store.step_result(client, workflow_id, step)
    return None if found is None else (found.performed, found.value)


@pytest.fixture
async def keeper(conn: psycopg.AsyncConnection[Any], client: Oban) -> Workflow:
    """A finished workflow with stored results, inserted before the bad input."""
    wf = (
        Workflow(name="keeper")
        .add("a", Echo.new({"value": {"kept": 1}}))
        .add("b", Echo.new({"value": ["x", 2]}), deps=["a"])
        .add("c", Echo.new(), deps=["a", "b"])
    )
    await wf.insert(oban=client)
    await drain(client)
    status = await baton.status(wf.id, oban=client)
    assert status.state == "completed"
    return wf


async def keeper_intact(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow, before: dict[str, Any]
) -> None:
    assert await stored(conn, keeper.id) == before
    status = await baton.status(keeper.id, oban=client)
    assert status.state == "completed"
    assert [(s.name, s.state, s.result_stored) for s in status.steps] == [
        ("a", "completed", True),
        ("b", "completed", True),
        ("c", "completed", True),
    ]


async def step_states(
    conn: psycopg.AsyncConnection[Any], workflow_id: str
) -> dict[str, tuple[Any, ...]]:
    """Each step's (job state, step outcome, attempt)."""
    rows = await (
        await conn.execute(
            "SELECT s.name, j.state::text, s.outcome, j.attempt FROM baton_steps s "
            "LEFT JOIN oban_jobs j ON j.id = s.job_id WHERE s.workflow_id = %s",
            (workflow_id,),
        )
    ).fetchall()
    return {name: (state, outcome, attempt) for name, state, outcome, attempt in rows}


async def last_error(conn: psycopg.AsyncConnection[Any], job_id: int | None) -> str:
    """The full text of a job's last error (a traceback for a raised exception)."""
    row = await (
        await conn.execute(
            "SELECT errors -> -1 ->> 'error' FROM oban_jobs WHERE id = %s", (job_id,)
        )
    ).fetchone()
    assert row is not None and row[0] is not None
    return str(row[0])


def baton_cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN")}
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


# --- 1. workflow definitions rejected before anything is written ---------------------------

type Build = Callable[[Workflow], Workflow]


def bad() -> Workflow:
    return Workflow(name="bad")


def step_name(name: Any) -> Build:
    return lambda _keeper: bad().add("ok", Echo.new()).add(name, Echo.new())


def args(value: Any, **options: Any) -> Build:
    return lambda _keeper: bad().add("ok", Echo.new()).add("a", Echo.new(value, **options))


NAME_RULE = re.escape("use 1-128 characters from A-Z a-z 0-9 _ . : - (not starting with . : or -)")

REJECTED = [
    # step names: invalid, empty, huge, unicode, SQL-looking, markup, line breaks
    pytest.param(
        step_name("fetch data"),
        InvalidStepName,
        [r"step name 'fetch data' in workflow 'bad' is invalid", NAME_RULE],
        id="step-name-with-a-space",
    ),
    pytest.param(
        step_name("a/b"),
        InvalidStepName,
        [r"step name 'a/b' in workflow 'bad' is invalid"],
        id="step-name-with-a-slash",
    ),
    pytest.param(
        step_name("-lead"),
        InvalidStepName,
        [r"step name '-lead' in workflow 'bad' is invalid", re.escape("not starting with")],
        id="step-name-leading-dash",
    ),
    pytest.param(
        step_name(""),
        InvalidStepName,
        [r"step name '' in workflow 'bad' is invalid"],
        id="step-name-empty",
    ),
    pytest.param(
        step_name("a" * 10_000),
        InvalidStepName,
        [r"^step name '" + "a" * 60 + "…' in workflow 'bad' is invalid", r"^.{0,300}$"],
        id="step-name-10k-chars",
    ),
    pytest.param(
        step_name("a" * 129),
        InvalidStepName,
        [r"in workflow 'bad' is invalid: use 1-128 characters"],
        id="step-name-129-chars",
    ),
    pytest.param(
        step_name("résumé"),
        InvalidStepName,
        [r"step name 'résumé' in workflow 'bad' is invalid"],
        id="step-name-unicode",
    ),
    pytest.param(
        step_name("fetch\u200b"),
        InvalidStepName,
        [re.escape(r"step name 'fetch\u200b' in workflow 'bad'")],  # shown escaped
        id="step-name-zero-width-space",
    ),
    pytest.param(
        step_name("x'); DROP TABLE baton_steps; --"),
        InvalidStepName,
        [re.escape("""step name "x'); DROP TABLE baton_steps; --" in workflow 'bad'""")],
        id="step-name-sql",
    ),
    pytest.param(
        step_name("<script>alert(1)</script>"),
        InvalidStepName,
        [re.escape("step name '<script>alert(1)</script>' in workflow 'bad' is invalid")],
        id="step-name-script-tag",
    ),
    pytest.param(
        step_name("ok\nERROR forged log line"),
        InvalidStepName,
        [re.escape(r"step name 'ok\nERROR forged log line' in workflow 'bad'")],
        id="step-name-newline",
    ),
    pytest.param(
        step_name(42),
        InvalidStepName,
        [r"step name 42 in workflow 'bad' is invalid"],
        id="step-name-not-a-string",
    ),
    pytest.param(
        lambda _k: bad().add("a", Echo.new()).add("a", Echo.new()),
        DuplicateStep,
        [r"workflow 'bad' already has a step or group 'a'"],
        id="step-name-duplicate",
    ),
    # graphs: self-deps, cycles, unknown deps
    pytest.param(
        lambda _k: bad().add("a", Echo.new(), deps=["a"]),
        SelfDependency,
        [r"step 'a' in workflow 'bad' depends on itself"],
        id="self-dependency",
    ),
    pytest.param(
        lambda _k: bad().add_many("g", [Echo.new(), Echo.new()], deps=["g"]),
        SelfDependency,
        [r"step 'g\[0\]' in workflow 'bad' depends on itself"],
        id="group-self-dependency",
    ),
    pytest.param(
        lambda _k: bad().add("a", Echo.new(), deps=["b"]).add("b", Echo.new(), deps=["a"]),
        DependencyCycle,
        [r"workflow 'bad' has a dependency cycle: (a -> b -> a|b -> a -> b)$"],
        id="cycle-of-two",
    ),
    pytest.param(
        lambda _k: (
            bad()
            .add("root", Echo.new())
            .add("a", Echo.new(), deps=["root", "c"])
            .add("b", Echo.new(), deps=["a"])
            .add("c", Echo.new(), deps=["b"])
        ),
        DependencyCycle,
        [r"cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)$"],  # along the deps
        id="cycle-of-three-behind-a-root",
    ),
    pytest.param(
        lambda _k: bad().add("fetch", Echo.new()).add("summarize", Echo.new(), deps=["fetc"]),
        UnknownDependency,
        [
            re.escape(
                "step 'summarize' depends on 'fetc', which is not in workflow 'bad'; "
                "did you mean 'fetch'? (steps: fetch, summarize)"
            )
        ],
        id="unknown-dep",
    ),
    pytest.param(
        lambda _k: bad().add("fan", Echo.new()).add("after", Echo.new(), deps=["fan[3]"]),
        UnknownDependency,
        [re.escape("step 'after' depends on 'fan[3]', which is not in workflow 'bad'")],
        id="unknown-group-member-dep",
    ),
    pytest.param(
        lambda _k: bad().add("a", Echo.new(), deps=["<script>"]),
        UnknownDependency,
        [re.escape("step 'a' in workflow 'bad': dep '<script>' is not a valid step or group")],
        id="dep-with-markup",
    ),
    pytest.param(
        lambda _k: bad().add("a", Echo.new(), deps=42),
        InvalidStep,
        [r"step 'a' in workflow 'bad': deps must be a list of step names, got 42"],
        id="deps-not-a-list",
    ),
    # workflows: empty, blank or oversized names and ids, bad flags, duplicates
    pytest.param(
        lambda _k: bad(),
        EmptyWorkflow,
        [re.escape("workflow 'bad' has no steps; add one before insert()")],
        id="empty-workflow",
    ),
    pytest.param(
        lambda _k: Workflow(name="  \n"),
        WorkflowError,
        [re.escape(r"workflow name must be a non-blank string, got '  \n'")],
        id="blank-workflow-name",
    ),
    pytest.param(
        lambda _k: Workflow(id="x" * 129),
        WorkflowError,
        [r"workflow id must be a non-blank string of at most 128 characters"],
        id="workflow-id-129-chars",
    ),
    pytest.param(
        lambda _k: Workflow(id=""),
        WorkflowError,
        [r"workflow id must be a non-blank string .*, got ''$"],
        id="workflow-id-empty",
    ),
    pytest.param(
        lambda _k: Workflow(name="bad", ignore_cancelled="yes"),  # type: ignore[arg-type]
        WorkflowError,
        [r"workflow 'bad': ignore_cancelled must be True or False, got 'yes'"],
        id="workflow-flag-not-a-bool",
    ),
    pytest.param(
        lambda keeper: Workflow(name="bad", id=keeper.id).add("a", Echo.new()),
        WorkflowError,
        [r"^a workflow with id '[0-9a-f-]{36}' already exists$"],
        id="workflow-id-of-a-stored-workflow",
    ),
    pytest.param(
        lambda keeper: keeper,
        WorkflowError,
        [r"^workflow 'keeper' \(id '[0-9a-f-]{36}'\) was already inserted$"],
        id="workflow-inserted-twice",
    ),
    # jobs and args: non-JSON, NaN, NUL, foreign objects, unimportable workers
    pytest.param(
        args({"when": {1, 2}}),
        InvalidStep,
        [
            r"step 'a' in workflow 'bad': args are not JSON-serialisable: "
            r"Object of type set is not JSON serializable"
        ],
        id="args-with-a-set",
    ),
    pytest.param(
        args({"at": datetime(2025, 1, 1, tzinfo=UTC)}),
        InvalidStep,
        [r"step 'a' in workflow 'bad': args are not JSON-serialisable: .*datetime"],
        id="args-with-a-datetime",
    ),
    pytest.param(
        args({"score": float("nan")}),
        InvalidStep,
        [r"step 'a' in workflow 'bad': args are not JSON-serialisable: Out of range float"],
        id="args-with-nan",
    ),
    pytest.param(
        args({"text": "a\x00b"}),
        InvalidStep,
        [r"step 'a' in workflow 'bad': args or meta contain a NUL character"],
        id="args-with-nul",
    ),
    pytest.param(
        args({}, meta={"owner": object()}),
        InvalidStep,
        [r"step 'a' in workflow 'bad': meta are not JSON-serialisable: Object of type object"],
        id="meta-not-json",
    ),
    pytest.param(
        lambda _k: bad().add("ghost", Job(worker="tests.nowhere.Missing")),
        InvalidStep,
        [r"step 'ghost' in workflow 'bad': worker 'tests.nowhere.Missing' cannot be imported"],
        id="worker-cannot-be-imported",
    ),
    pytest.param(
        lambda _k: bad().add("a", {"worker": "tests.support.steps.Echo"}),  # type: ignore[arg-type]
        InvalidStep,
        [r"step 'a' in workflow 'bad': expected an Oban job such as Worker.new\(args\), got dict"],
        id="job-not-a-job",
    ),
    pytest.param(
        lambda keeper: bad().add("again", keeper.steps["a"].job),
        InvalidStep,
        [r"step 'again' in workflow 'bad': job \d+ was already inserted; pass Worker.new\(\)"],
        id="job-already-inserted",
    ),
]


@pytest.mark.parametrize(("build", "error", "patterns"), REJECTED)
async def test_rejected_with_a_clear_error_and_nothing_written(
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    keeper: Workflow,
    build: Build,
    error: type[Exception],
    patterns: list[str],
) -> None:
    before = await dump(conn)
    with pytest.raises(error) as raised:
        await build(keeper).insert(oban=client)
    assert type(raised.value) is error
    message = str(raised.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    assert "\n" not in message  # one line, whatever the input held
    assert await dump(conn) == before


# --- 2. odd but valid names: accepted, stored verbatim, run --------------------------------

ACCEPTED = [
    pytest.param(
        "'); DROP TABLE baton_workflows; --",
        "1' OR '1'='1",
        "select:1--drop",
        id="sql-looking-names-and-id",
    ),
    pytest.param(
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "script.alert",
        id="markup-names-and-id",
    ),
    pytest.param("報告 ✓ 😀", "ид-😀-\u202e", "step_1", id="unicode-names-and-id"),
    pytest.param("w" * 10_000, "x" * 128, "s" * 128, id="10k-workflow-name-longest-id"),
]


@pytest.mark.parametrize(("name", "workflow_id", "step"), ACCEPTED)
async def test_odd_valid_names_are_stored_verbatim_and_run(
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    keeper: Workflow,
    name: str,
    workflow_id: str,
    step: str,
) -> None:
    kept = await stored(conn, keeper.id)
    wf = (
        Workflow(name=name, id=workflow_id)
        .add(step, Echo.new({"value": name}))
        .add("after", Echo.new(), deps=[step])
    )
    async with baton.subscribe(workflow_id, oban=client) as events:
        await wf.insert(oban=client)
        await drain(client)
        seen = await es.follow(events, conn, workflow_id)

    status = await baton.status(workflow_id, oban=client)
    assert (status.id, status.name, status.state) == (workflow_id, name, "completed")
    assert [s.name for s in status.steps] == [step, "after"]
    results = await stored_result(client, workflow_id, "after")
    assert results == (True, {step: name})
    [finished] = [e for e in seen if isinstance(e, WorkflowFinished)]
    assert finished.workflow_id == workflow_id
    assert finished.workflow_name == name[:200]  # events cut names; the row keeps them
    assert {e.step for e in seen if isinstance(e, StepEvent)} == {step, "after"}
    await keeper_intact(conn, client, keeper, kept)


# --- 3. bad results and errors at run time: a defined outcome ------------------------------

UNSTORABLE = [
    pytest.param(
        Outcome.new({"outcome": "unjson"}),
        r"step 'a': result of type dict is not JSON-serialisable \(Object of type set",
        id="result-not-json",
    ),
    pytest.param(
        Outcome.new({"outcome": "huge"}),
        r"step 'a': result is 2,000,01\d bytes of JSON, over the limit of 1,000,000",
        id="result-2MB",
    ),
    pytest.param(
        Returns.new({"kind": "sized", "length": 100}),
        r"step 'a': result is 11\d bytes of JSON, over the limit of 64",
        id="result-over-worker-limit",
    ),
    pytest.param(
        Returns.new({"kind": "nul"}),
        r"step 'a': result contains a NUL character",
        id="result-with-nul",
    ),
    pytest.param(
        Returns.new({"kind": "nan"}),
        r"step 'a': result of type float is not JSON-serialisable",
        id="result-nan",
    ),
]


@pytest.mark.parametrize(("job", "pattern"), UNSTORABLE)
async def test_unstorable_results_discard_the_step_on_its_first_attempt(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow, job: Job, pattern: str
) -> None:
    kept = await stored(conn, keeper.id)
    wf = Workflow(name="unstorable").add("a", job).add("b", Echo.new({"value": 1}), deps=["a"])
    await wf.insert(oban=client)
    await drain(client)

    assert job.max_attempts > 1
    assert await step_states(conn, wf.id) == {
        "a": ("discarded", "discarded", 1),  # not retried: the work is not paid for twice
        "b": ("cancelled", "cancelled", 0),  # never run: cancelled by a's settlement
    }
    status = await baton.status(wf.id, oban=client)
    assert status.state == "failed"
    error = await last_error(conn, wf.steps["a"].job.id)
    assert error.endswith("\n") or "UnstorableResult" in error.splitlines()[-1]
    assert re.search(r"baton\.errors\.UnstorableResult: " + pattern, error), error
    assert not status.step("a").result_stored
    await keeper_intact(conn, client, keeper, kept)


@contextlib.asynccontextmanager
async def listen_raw(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A bare LISTEN on the events channel, for the payloads as sent. Events are sent only
    while someone is present, so a ``workflow:all`` subscription is held open meanwhile."""
    async with (
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw,
        baton.subscribe(dsn=dsn),
    ):
        await raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(es.EVENTS_CHANNEL)))
        yield raw


async def test_a_100kb_error_message_is_whole_on_the_job_and_in_status_and_cut_in_events(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow
) -> None:
    kept = await stored(conn, keeper.id)
    message = "€" * 33_334  # 100 kB of UTF-8
    wf = Workflow(name="loud").add("loud", Loud.new({"message": message}))
    async with listen_raw(installed) as raw:
        await wf.insert(oban=client)
        await drain(client)
        payloads: list[str] = []
        async with asyncio.timeout(30):
            async for notify in raw.notifies():
                payloads.append(notify.payload)
                if json.loads(notify.payload)["type"] == "workflow":
                    break

    # the job keeps every attempt's full error
    row = await (
        await conn.execute(
            "SELECT state::text, errors FROM oban_jobs WHERE id = %s", (wf.steps["loud"].job.id,)
        )
    ).fetchone()
    assert row is not None
    state, errors = row
    assert state == "discarded"
    assert len(errors) == 2
    assert all(message in entry["error"] for entry in errors)
    # status has it whole, type first; events cut it to 1,000 characters, each payload fits
    status = await baton.status(wf.id, oban=client)
    assert status.step("loud").error == "RuntimeError: " + message
    assert all(len(payload.encode()) < 8000 for payload in payloads)
    events = [json.loads(payload) for payload in payloads]
    failures = [e for e in events if e["type"] == "step" and e["state"] != "executing"]
    assert [e["state"] for e in failures] == ["retryable", "discarded"]
    for event in failures:
        assert event["error"] == (
            ("RuntimeError: " + message)[:1000] + "… (cut; the whole error is in the job)"
        )
    assert events[-1]["outcome"] == "failed"
    await keeper_intact(conn, client, keeper, kept)


async def test_a_worker_that_cannot_be_imported_at_run_time_is_discarded(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow
) -> None:
    kept = await stored(conn, keeper.id)
    wf = (
        Workflow(name="vanished")
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}), deps=["a"])
    )
    await wf.insert(oban=client)
    # the class was importable at insert; the deployed code no longer has it
    await conn.execute(
        "UPDATE oban_jobs SET worker = 'tests.nowhere.Gone' WHERE id = %s",
        (wf.steps["a"].job.id,),
    )
    await drain(client)

    assert await step_states(conn, wf.id) == {
        "a": ("discarded", "discarded", 1),  # at once: no attempt could resolve it
        "b": ("cancelled", "cancelled", 0),  # never run: cancelled by a's settlement
    }
    status = await baton.status(wf.id, oban=client)
    assert status.state == "failed"
    assert status.step("a").error == (
        "oban.worker.WorkerResolutionError: Module 'tests.nowhere' not found for worker "
        "'tests.nowhere.Gone'"
    )
    assert status.step("a").worker == "tests.support.steps.Echo"  # Baton's row is unchanged
    await keeper_intact(conn, client, keeper, kept)


async def test_a_plain_job_whose_worker_cannot_be_imported_keeps_oban_s_retries(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    """Only workflow steps are discarded at once; Oban's own jobs keep its behaviour."""
    job = await client.enqueue(Job(worker="tests.nowhere.Gone", queue="default", max_attempts=3))
    await drain(client)
    row = await (
        await conn.execute("SELECT state::text, attempt FROM oban_jobs WHERE id = %s", (job.id,))
    ).fetchone()
    assert row == ("discarded", 3)  # every attempt tried, as Oban does


# --- 4. tampered job meta ------------------------------------------------------------------

TAMPERED = [
    pytest.param("jsonb_set(meta, '{workflow_step}', '\"a\"')", id="step-renamed-to-a-sibling"),
    pytest.param("jsonb_set(meta, '{workflow_id}', '\"nowhere\"')", id="workflow-id-to-nowhere"),
    pytest.param("meta - 'workflow_step'", id="step-name-removed"),
    pytest.param("jsonb_set(meta, '{workflow_step}', '\"<script>\"')", id="step-renamed-markup"),
]


@pytest.mark.parametrize("tamper", TAMPERED)
async def test_a_job_whose_meta_no_longer_names_its_step_is_not_that_step_s_job(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow, tamper: str
) -> None:
    """Baton matches a job to a step only when the job's id and its meta both name the step:
    the worker refuses the tampered job, it settles no step (not even the sibling it now
    names), and the sweep settles the step it lost as ``deleted``."""
    kept = await stored(conn, keeper.id)
    wf = (
        Workflow(name="tampered")
        .add("a", Echo.new({"value": "A"}))
        .add("b", Echo.new({"value": "B"}))
        .add("c", Echo.new(), deps=["a", "b"])
    )
    await wf.insert(oban=client)
    update = sql.SQL("UPDATE oban_jobs SET meta = {} WHERE id = %s").format(sql.SQL(tamper))
    await conn.execute(update, (wf.steps["b"].job.id,))
    await drain(client)

    states = await step_states(conn, wf.id)
    assert states["a"] == ("completed", "completed", 1)
    assert states["b"][:2] == ("discarded", None)  # refused, and no step settled by it
    assert states["c"] == ("suspended", None, 0)
    report = await baton.sweep(oban=client)
    assert report.settled == ((wf.id, "b", "deleted"),)
    await drain(client)

    assert {
        name: outcome for name, (_s, outcome, _a) in (await step_states(conn, wf.id)).items()
    } == {"a": "completed", "b": "deleted", "c": "cancelled"}
    assert await stored_result(client, wf.id, "a") == (True, "A")
    assert await stored_result(client, wf.id, "b") == (False, None)
    assert await stored_result(client, wf.id, "c") == (False, None)
    await keeper_intact(conn, client, keeper, kept)


async def test_meta_without_a_workflow_id_runs_as_a_plain_job_and_its_step_is_deleted(
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    keeper: Workflow,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without ``workflow_id`` in its meta a job is not a step's to the worker, the trigger or
    the sweep: it runs without a dep check and stores no result, and its step stays
    unsettled until ``baton.sweep()`` (``baton.Sweeper`` on the leader) settles it as
    ``deleted``: the step no longer has a job."""
    kept = await stored(conn, keeper.id)
    wf = (
        Workflow(name="untagged", id="untagged\nCRITICAL forged log line")
        .add("a", Echo.new({"value": "A"}))
        .add("b", Echo.new(), deps=["a"])
    )
    await wf.insert(oban=client)
    await conn.execute(
        "UPDATE oban_jobs SET meta = meta - 'workflow_id' WHERE id = %s", (wf.steps["a"].job.id,)
    )
    await drain(client)

    assert await step_states(conn, wf.id) == {
        "a": ("completed", None, 1),  # ran, but no trigger saw it
        "b": ("suspended", None, 0),
    }
    assert (await baton.status(wf.id, oban=client)).state == "running"

    with caplog.at_level(logging.WARNING, logger="baton"):
        report = await baton.sweep(oban=client)
    assert report.settled == ((wf.id, "a", "deleted"),)
    [logged] = [r.getMessage() for r in caplog.records if "sweep settled" in r.getMessage()]
    assert logged == (
        "Baton sweep settled 1 step(s) and activated 0: "  # settling 'a' cancelled 'b'
        "'untagged\\nCRITICAL forged log line'/a→deleted"
    )  # the id's newline is shown escaped: one log line
    await drain(client)

    assert await step_states(conn, wf.id) == {
        "a": ("completed", "deleted", 1),
        "b": ("cancelled", "cancelled", 0),  # cancelled by the settlement: it never ran
    }
    assert await stored_result(client, wf.id, "a") == (False, None)  # "A" was not kept
    assert await stored_result(client, wf.id, "b") == (False, None)
    assert (await baton.status(wf.id, oban=client)).state == "failed"
    await keeper_intact(conn, client, keeper, kept)


async def test_a_job_forging_the_meta_of_a_stored_step_is_discarded(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow
) -> None:
    """A job Baton did not insert, whose meta names the keeper's step 'a', cannot touch it."""
    kept = await stored(conn, keeper.id)
    forged = await client.enqueue(
        Echo.new({"value": "forged"}, meta={"workflow_id": keeper.id, "workflow_step": "a"})
    )
    await drain(client)

    row = await (
        await conn.execute(
            "SELECT state::text, attempt, errors -> -1 ->> 'error' FROM oban_jobs WHERE id = %s",
            (forged.id,),
        )
    ).fetchone()
    assert row is not None
    state, attempt, error = row
    assert (state, attempt) == ("discarded", 1)  # at once, although Echo allows 3 attempts
    assert (
        f"job {forged.id} names workflow {keeper.id!r} step 'a' in its meta, but Baton has no "
        "step for it"
    ) in error
    await keeper_intact(conn, client, keeper, kept)


# --- 5. unknown workflow ids in every entry point ------------------------------------------

UNKNOWN_IDS = [
    pytest.param("no-such-workflow", "'no-such-workflow'", id="unknown"),
    pytest.param("' OR '1'='1", """"' OR '1'='1\"""", id="sql-injection"),
    pytest.param("", "''", id="empty"),
    pytest.param("x" * 10_000, "'" + "x" * 100, id="10k-chars"),
    pytest.param("<script>", "'<script>'", id="markup"),
    pytest.param("a\x00b", r"'a\x00b': it contains a NUL character", id="nul"),
    pytest.param(123, "123: workflow ids are strings, got int", id="int"),
    pytest.param(None, "None: workflow ids are strings, got NoneType", id="none"),
]


@pytest.mark.parametrize("entry", ["status", "results", "usage", "cancel", "retry"])
@pytest.mark.parametrize(("workflow_id", "shown"), UNKNOWN_IDS)
async def test_unknown_workflow_ids_raise_unknown_workflow_and_change_nothing(
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    keeper: Workflow,
    entry: str,
    workflow_id: Any,
    shown: str,
) -> None:
    before = await dump(conn)
    with pytest.raises(UnknownWorkflow) as raised:
        await getattr(baton, entry)(workflow_id, oban=client)
    assert str(raised.value).startswith(f"no workflow with id {shown}")
    assert isinstance(raised.value, LookupError)
    assert await dump(conn) == before


async def test_subscribing_to_an_unknown_workflow_receives_nothing_but_its_own_topic(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow
) -> None:
    """Allowed (a subscriber may subscribe before inserting); it just hears no other
    workflow's events."""
    other = Workflow(name="other").add("a", Echo.new({"value": 1}))
    async with baton.subscribe("no-such-workflow", oban=client) as events:
        await other.insert(oban=client)
        await drain(client)
        assert (await baton.status(other.id, oban=client)).state == "completed"
        # a marker on the subscribed topic arrives after everything sent before it
        marker = await es.send_marker(conn, "no-such-workflow")
        seen = await es.read_until(events, lambda e: isinstance(e, StepEvent) and e.step == marker)
    assert len(seen) == 1 and es.is_marker(seen[0])
    assert seen[0].workflow_id == "no-such-workflow"


@pytest.mark.parametrize("command", ["status", "result", "watch", "graph", "cancel", "retry"])
def test_the_cli_reports_an_unknown_workflow_id_in_one_line(installed: str, command: str) -> None:
    done = baton_cli(command, "no-such-workflow", "--dsn", installed)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["Error: no workflow with id 'no-such-workflow'"]


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("x'; DROP TABLE oban_jobs; --", id="sql"),
        pytest.param("Upper", id="upper-case"),
        pytest.param("has space", id="space"),
        pytest.param("<script>", id="markup"),
    ],
)
async def test_cli_install_rejects_a_prefix_that_is_not_a_plain_name(
    installed: str, conn: psycopg.AsyncConnection[Any], keeper: Workflow, prefix: str
) -> None:
    before = await dump(conn)
    done = baton_cli("install", "--dsn", installed, "--prefix", prefix)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"Error: invalid --prefix: prefix {prefix!r} is not a valid schema name: use lower-case "
        "letters, digits and _ (not starting with a digit), as Oban writes it "
        "into SQL unquoted"
    ]
    schemas = await (
        await conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (prefix,))
    ).fetchone()
    assert schemas == (0,)
    assert await dump(conn) == before


async def test_install_rejects_a_bad_prefix_from_an_oban_instance_too(
    installed: str, oban_pool: Any
) -> None:
    instance = Oban(pool=oban_pool, prefix="Mixed", name="baton_bad_prefix", leadership=False)
    with pytest.raises(SchemaError, match=r"^prefix 'Mixed' is not a valid schema name"):
        await baton.install(instance)
    with pytest.raises(SchemaError, match=r"^prefix 'a;b' is not a valid schema name"):
        await baton.install(installed, prefix="a;b")


def test_cli_install_with_a_malformed_dsn_is_one_line() -> None:
    done = baton_cli("install", "--dsn", "not a dsn'; DROP TABLE oban_jobs; --")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "Traceback" not in done.stderr


# --- 6. races: cancel against insert, install against running workers ----------------------


def diamond(name: str) -> Workflow:
    return (
        Workflow(name=name)
        .add("a", Echo.new({"value": 1}))
        .add("b", Echo.new({"value": 2}), deps=["a"])
        .add("c", Echo.new({"value": 3}), deps=["a"])
        .add("d", Echo.new(), deps=["b", "c"])
    )


async def whole(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> tuple[int, int, int]:
    """(workflow rows, step rows, edge rows) of one workflow: (1, 4, 4) or nothing."""
    row = await (
        await conn.execute(
            "SELECT (SELECT count(*) FROM baton_workflows WHERE id = %(id)s), "
            "(SELECT count(*) FROM baton_steps WHERE workflow_id = %(id)s), "
            "(SELECT count(*) FROM baton_edges WHERE workflow_id = %(id)s)",
            {"id": workflow_id},
        )
    ).fetchone()
    assert row is not None
    return row


async def test_cancel_while_the_insert_is_uncommitted_is_unknown_then_the_workflow_runs(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow
) -> None:
    kept = await stored(conn, keeper.id)
    wf = diamond("in-flight")
    async with await psycopg.AsyncConnection.connect(installed) as caller:
        async with caller.transaction():
            await wf.insert(conn=caller, oban=client)
            with pytest.raises(UnknownWorkflow, match=re.escape(f"no workflow with id {wf.id!r}")):
                await baton.cancel(wf.id, oban=client)
        # committed: a cancel now would win; none was issued, so it runs
    assert await whole(conn, wf.id) == (1, 4, 4)
    await drain(client)
    assert (await baton.status(wf.id, oban=client)).state == "completed"
    await keeper_intact(conn, client, keeper, kept)


async def test_cancel_racing_insert_is_unknown_or_cancels_everything(
    conn: psycopg.AsyncConnection[Any], client: Oban, keeper: Workflow
) -> None:
    kept = await stored(conn, keeper.id)
    seen: Counter[str] = Counter()
    for delay in [0.0, 0.0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.013, 0.02] * 2:
        wf = diamond("raced")

        async def cancel_soon(wf: Workflow = wf, delay: float = delay) -> int:
            await asyncio.sleep(delay)
            return await baton.cancel(wf.id, oban=client)

        inserted, cancelled = await asyncio.gather(
            wf.insert(oban=client), cancel_soon(), return_exceptions=True
        )
        assert inserted is wf
        assert await whole(conn, wf.id) == (1, 4, 4)  # all of it, never part
        await drain(client)
        status = await baton.status(wf.id, oban=client)
        states = {step.name: step.state for step in status.steps}
        if isinstance(cancelled, UnknownWorkflow):
            seen["unknown"] += 1
            assert status.state == "completed"
            assert set(states.values()) == {"completed"}
        else:
            assert isinstance(cancelled, int), cancelled
            seen["cancelled"] += 1
            assert status.state == "cancelled"
            assert set(states.values()) == {"cancelled"}
    assert sum(seen.values()) == 20

    # and the two orders that the race may or may not have produced, one after the other
    late = await diamond("cancelled-after").insert(oban=client)
    # all four at once: the suspended steps have no on_dep_* callback to run
    assert await baton.cancel(late.id, oban=client) == 4
    await drain(client)
    assert (await baton.status(late.id, oban=client)).counts == {"cancelled": 4}
    await keeper_intact(conn, client, keeper, kept)


async def test_a_second_install_while_workers_run_changes_nothing(
    installed: str, conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = Workflow(name="busy").add("s0", Slow.new())
    for index in range(1, 12):
        wf.add(f"s{index}", Slow.new(), deps=[f"s{index - 1}"])
    wf.add_many("fan", [Slow.new() for _ in range(4)], deps=["s3"])
    versions = (await dump(conn))["baton_versions"]
    await wf.insert(oban=running)

    installs = 0
    finished = "SELECT finished_at IS NOT NULL FROM baton_workflows WHERE id = %s"
    async with asyncio.timeout(60):
        while not (await (await conn.execute(finished, (wf.id,))).fetchone() or (False,))[0]:
            assert await baton.install(installed) == baton.SCHEMA_VERSION
            installs += 1
    await wait_settled(conn, wf.id)

    assert installs >= 2  # installs ran while steps were executing
    status = await baton.status(wf.id, oban=running)
    assert status.state == "completed"
    assert all(SLOW_CALLS[(wf.id, name)] == 1 for name in wf.steps)
    assert (await dump(conn))["baton_versions"] == versions  # same version, not re-recorded


async def test_installs_from_the_cli_and_the_api_at_once_while_workers_run(
    installed: str, conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = Workflow(name="busy-cli").add_many("fan", [Slow.new({"sleep": 0.2}) for _ in range(8)])
    await wf.insert(oban=running)
    await wait_until(
        conn,
        "SELECT count(*) > 0 FROM oban_jobs "
        "WHERE state = 'executing' AND meta->>'workflow_id' = %s",
        (wf.id,),
    )
    cli, *api = await asyncio.gather(
        asyncio.to_thread(baton_cli, "install", "--dsn", installed),
        *(baton.install(installed) for _ in range(3)),
    )
    assert cli.returncode == 0, cli.stderr
    assert f"Baton schema version {baton.SCHEMA_VERSION}" in cli.stdout
    assert api == [baton.SCHEMA_VERSION] * 3
    await wait_settled(conn, wf.id)
    assert (await baton.status(wf.id, oban=running)).state == "completed"


# --- 7. names and error text in logs -------------------------------------------------------


async def test_markup_and_line_breaks_reach_the_log_as_one_inert_json_line(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    name = '<script>alert("x")</script>\n{"event": "forged"}\u2028NEL\x85end'
    workflow_id = 'wf\r\n{"forged": true}'
    reason = "bad input\nWARNING forged line\x1b[2J & <b>bold</b>"
    wf = (
        Workflow(name=name, id=workflow_id)
        .add("ok", es.Quick.new())
        .add("bad", es.Returns.new({"outcome": "discard", "reason": reason}))
    )
    caplog.set_level(logging.INFO, logger="baton")
    baton.telemetry.attach_default_logger()
    try:
        async with baton.subscribe(workflow_id, oban=client) as events:
            await wf.insert(oban=client)
            await drain(client)
            await es.follow(events, conn, workflow_id)
    finally:
        baton.telemetry.detach_default_logger()

    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    lines = []
    for record in caplog.records:
        text = record.getMessage()
        if record.name != "baton" or not text.startswith("{"):
            continue
        formatted = formatter.format(record)
        assert len(formatted.splitlines()) == 1, formatted  # no forged lines
        assert "<" not in text and ">" not in text and "&" not in text  # inert as HTML
        line = json.loads(text)
        if line["workflow_id"] == workflow_id:
            lines.append(line)
    assert [(line["event"], line.get("step")) for line in lines] == [
        ("baton.step.executing", "ok"),
        ("baton.step.completed", "ok"),
        ("baton.step.executing", "bad"),
        ("baton.step.discarded", "bad"),
        ("baton.workflow.finished", None),
    ]
    assert all(line["workflow_name"] == name for line in lines)  # escaped, not altered
    [discarded] = [line for line in lines if line["event"] == "baton.step.discarded"]
    # an event carries a traceback's final exception, its type and whole message
    assert discarded["error"] == f"baton._outcomes.StepFailed: {reason}"
    error = await last_error(conn, wf.steps["bad"].job.id)
    assert error.endswith(f"baton._outcomes.StepFailed: {reason}\n")  # in full on the job


async def test_a_malformed_event_is_logged_on_one_line_and_skipped(
    conn: psycopg.AsyncConnection[Any], client: Oban, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone with database access can NOTIFY Baton's channel; junk is logged, not relayed."""
    junk = "not json\nCRITICAL forged log line <script>"
    with caplog.at_level(logging.ERROR, logger="baton"):
        async with baton.subscribe("junk", oban=client) as events:
            await conn.execute("SELECT pg_notify(%s, %s)", (es.EVENTS_CHANNEL, junk))
            marker = await es.send_marker(conn, "junk")
            seen = await es.read_until(
                events, lambda e: isinstance(e, StepEvent) and e.step == marker
            )
    assert len(seen) == 1 and es.is_marker(seen[0])  # the junk was not delivered
    [record] = [r for r in caplog.records if "malformed Baton event" in r.getMessage()]
    assert record.getMessage() == f"ignoring a malformed Baton event: {junk!r}"
    assert "\n" not in record.getMessage()
