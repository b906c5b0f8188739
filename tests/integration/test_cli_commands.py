"""``baton start/list/status/watch/graph/cancel/retry/web`` as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.cli._terminal import cost
from tests.support import event_steps as es
from tests.support.db import wait_settled
from tests.support.event_steps import drain

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere"
USAGE = {"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 80}


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("COLUMNS", None)
    return env


async def cli(*args: str, timeout: float = 60, columns: int | None = None) -> tuple[int, str, str]:
    """Run ``python -m baton ARGS``; return its exit code, stdout and stderr.

    ``columns`` sets ``COLUMNS``, the width of a terminal.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**environment(), **({"COLUMNS": str(columns)} if columns else {})},
    )
    async with asyncio.timeout(timeout):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def background(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m baton ARGS`` running; killed on the way out if still alive."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=environment(),
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def read_until(stream: asyncio.StreamReader | None, text: str, timeout: float = 30) -> str:
    """Lines of ``stream`` up to the first that contains ``text``."""
    assert stream is not None
    seen = ""
    async with asyncio.timeout(timeout):
        while text not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"the stream ended before {text!r}: {seen}")
            seen += line.decode()
    return seen


def one_line_error(code: int, err: str, message: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [message] or (
        len(err.strip().splitlines()) == 1 and err.startswith(message)
    ), err


def brief() -> Workflow:
    return (
        Workflow(name="brief")
        .add("fetch", es.Quick.new({"value": {"text": "hello"}}))
        .add_many("search", [es.Quick.new({"value": i}) for i in range(2)], deps=["fetch"])
        .add("compile", es.Reads.new(), deps=["search", "fetch"])
    )


async def run(client: Oban, workflow: Workflow, *queues: str) -> Workflow:
    """Insert ``workflow`` unless it was, and run it to the end in this process."""
    if not any(step.job.id for step in workflow.steps.values()):
        await workflow.insert(oban=client)
    for _ in range(10):
        ran = [sum((await drain(client, queue)).values()) for queue in queues or ("default",)]
        if not sum(ran):
            break
    return workflow


# --- list ----------------------------------------------------------------------------------


async def test_list_shows_recent_workflows(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    done = await run(client, brief())
    failed = await run(client, Workflow(name="flop").add("boom", es.Failing.new()))
    priced = await run(
        client, Workflow(name="priced").add("ask", es.ReportsUsage.new({"usage": USAGE})), "llm"
    )
    running = Workflow(name="later").add("a", es.Quick.new()).add("b", es.Quick.new(), deps="a")
    await running.insert(oban=client)

    code, out, err = await cli("list", "--dsn", installed)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATE", "STEPS", "DURATION", "COST"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert list(rows) == [running.id, priced.id, failed.id, done.id]  # newest first
    assert rows[done.id][1:4] == ["brief", "completed", "4/4"]
    assert rows[failed.id][1:4] == ["flop", "failed", "0/1"]
    assert rows[running.id][1:4] == ["later", "running", "0/2"]
    priced_cost = (await baton.status(priced.id, oban=client)).cost_usd
    assert priced_cost is not None and priced_cost > 0
    assert rows[priced.id][-1] == cost(priced_cost)
    assert rows[done.id][-1] == "—"

    code, out, err = await cli("status", priced.id, "--dsn", installed)
    assert code == 0, err
    assert out.splitlines()[2].split() == ["STEP", "STATE", "QUEUE", "ATTEMPT", "DURATION", "COST"]
    assert out.splitlines()[4].split()[-1] == cost(priced_cost)
    assert f"cost {cost(priced_cost)}" in out.splitlines()[1]

    code, out, err = await cli("list", "--dsn", installed, "--limit", "1", "--json")
    assert code == 0, err
    [newest] = json.loads(out)
    assert newest["id"] == running.id
    assert (newest["state"], newest["step_count"], newest["settled_steps"]) == ("running", 2, 0)

    code, out, err = await cli("list", "--dsn", installed, "--state", "failed", "--json")
    assert [item["id"] for item in json.loads(out)] == [failed.id]


async def test_list_when_there_is_none(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    code, out, err = await cli("list", "--dsn", installed)
    assert (code, out) == (0, "No workflows.\n"), err


async def test_list_workflows_checks_its_arguments(client: Oban) -> None:
    with pytest.raises(baton.errors.InvalidOption, match="limit must be a positive integer"):
        await baton.list_workflows(limit=0, oban=client)
    with pytest.raises(baton.errors.InvalidOption, match="state must be one of running, completed"):
        await baton.list_workflows(state="done", oban=client)


# --- status --------------------------------------------------------------------------------


async def test_status_table(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(
        client,
        Workflow(name="mixed")
        .add("fetch", es.Quick.new({"value": 1}))
        .add("boom", es.Failing.new({"message": "upstream said no"}), deps="fetch")
        .add("after", es.Quick.new(), deps="boom"),
    )
    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["mixed", wf.id]
    assert lines[1].startswith("failed · 1/3 steps completed · took ")
    assert lines[2].split() == ["STEP", "STATE", "QUEUE", "ATTEMPT", "DURATION"]
    rows = {line.split()[0]: line for line in lines[4:7]}
    assert rows["fetch"].split()[1:4] == ["completed", "default", "1/3"]
    assert rows["boom"].split()[1:4] == ["discarded", "default", "2/2"]
    assert rows["after"].split()[1:4] == ["cancelled", "default", "0/3"]  # never ran
    assert lines[7:] == [
        "errors:",
        "boom (discarded, attempt 2/2): RuntimeError: upstream said no",
        "after (cancelled, attempt 0/3): cancelled by Baton: dependencies did not complete: "
        "boom (discarded)",
    ]

    code, out, err = await cli("status", wf.id, "--dsn", installed, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["id"], data["state"], [s["name"] for s in data["steps"]]) == (
        wf.id,
        "failed",
        ["fetch", "boom", "after"],
    )


async def test_status_shows_errors_whole_and_steps_that_cannot_succeed_fail_at_once(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(
        client,
        Workflow(name="advice")
        .add("fetch", es.Quick.new({"value": 1}))
        .add_many("group", [es.Quick.new({"value": 2}), es.Quick.new({"value": 3})])
        .add("compile", es.ReadsName.new({"name": "fetch"}))
        .add("member", es.ReadsName.new({"name": "group[5]"}), deps=["group"])
        .add("unstorable", es.Unstorable.new()),
    )
    advice = (
        "baton.errors.NotADependency: step 'compile' asked for the result of 'fetch', which "
        "is not one of its deps (none); declare it with deps=[...] to read it"
    )
    code, out, err = await cli("status", wf.id, "--dsn", installed, columns=200)
    assert code == 0, err
    lines = out.splitlines()
    rows = {line.split()[0]: line.split()[1:4:2] for line in lines[4:10]}  # state, attempt
    # each discarded at its first attempt, not retried for the default 20
    assert rows["compile"] == rows["member"] == ["discarded", "1/20"]
    assert rows["unstorable"] == ["discarded", "1/20"]
    errors = lines[lines.index("errors:") + 1 :]
    assert f"compile (discarded, attempt 1/20): {advice}" in errors  # one line, whole
    text = " ".join(" ".join(errors).split())  # longer ones wrap at 200 columns
    assert (
        "member (discarded, attempt 1/20): baton.errors.NotADependency: step 'member' asked "
        "for the result of 'group[5]', which names no step of the workflow (a group member "
        "past the group's end, or a path holding no steps)"
    ) in text
    assert (
        "unstorable (discarded, attempt 1/20): baton.errors.UnstorableResult: step "
        "'unstorable': result of type dict is not JSON-serialisable (Object of type set is "
        "not JSON serializable); return dicts, lists, strings, numbers, booleans or None"
    ) in text

    status = await baton.status(wf.id, oban=client)
    [compile_step] = [step for step in status.steps if step.name == "compile"]
    assert compile_step.error == advice
    assert compile_step.traceback is not None
    assert compile_step.traceback.startswith("Traceback (most recent call last):")
    assert compile_step.traceback.rstrip().endswith(advice)


# --- graph ---------------------------------------------------------------------------------


async def test_graph_of_a_stored_workflow(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = brief()
    await wf.insert(oban=client)
    code, out, err = await cli("graph", wf.id, "--dsn", installed)
    assert code == 0, err
    assert out == await baton.graph(wf.id, oban=client)
    assert out.splitlines()[-4:] == [
        "    classDef available fill:#dbeafe,stroke:#3b82f6,color:#1d4ed8",
        "    class n0 available",
        "    classDef suspended fill:#f3f4f6,stroke:#9ca3af,color:#4b5563",
        "    class n1,n2,n3 suspended",
    ]
    # the same drawing as before insert, states aside
    drawn = [line for line in out.splitlines() if not line.lstrip().startswith("class")]
    assert "\n".join(drawn) + "\n" == wf.to_mermaid()

    await run(client, wf)
    code, out, err = await cli("graph", wf.id, "--dsn", installed, "--format", "dot")
    assert code == 0, err
    assert out == await baton.graph(wf.id, format="dot", oban=client)
    assert out.startswith("digraph workflow {\n")
    assert '    n0 [label="fetch", class="completed", fillcolor="#d1fae5"' in out
    assert "    subgraph cluster_g0 {" in out

    with pytest.raises(baton.errors.InvalidOption, match="'mermaid' or 'dot', got 'png'"):
        await baton.graph(wf.id, format="png", oban=client)  # type: ignore[arg-type]
    with pytest.raises(baton.errors.UnknownWorkflow, match="no workflow with id 'nope'"):
        await baton.graph("nope", oban=client)
    code, _out, err = await cli("graph", wf.id, "--dsn", installed, "--format", "png")
    assert code == 2 and "Invalid value for '--format'" in err


# --- cancel and retry ----------------------------------------------------------------------


async def test_cancel(installed: str, conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = Workflow(name="doomed").add("a", es.Quick.new()).add("b", es.Reads.new(), deps="a")
    await wf.insert(oban=client)
    code, out, err = await cli("cancel", wf.id, "--dsn", installed)
    assert code == 0, err
    assert out.startswith(f"Cancelled workflow {wf.id!r}: 1 job cancelled or signalled now")
    assert (await baton.status(wf.id, oban=client)).state == "cancelled"
    await run(client, wf)  # b runs its dep check and cancels itself
    await wait_settled(conn, wf.id)

    code, out, err = await cli("cancel", wf.id, "--dsn", installed)
    assert (code, out) == (
        0,
        f"Workflow {wf.id!r} already finished (cancelled): nothing to cancel.\n",
    )


async def test_retry(installed: str, conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = Workflow(name="flaky").add("a", es.Flaky.new()).add("b", es.Quick.new(), deps="a")
    es.FAIL_WHILE.add(wf.id)
    try:
        await run(client, wf)
    finally:
        es.FAIL_WHILE.discard(wf.id)
    assert (await baton.status(wf.id, oban=client)).state == "failed"

    code, out, err = await cli("retry", wf.id, "--dsn", installed)
    assert (code, out) == (0, f"Retrying 2 steps of workflow {wf.id!r}: a, b\n"), err
    await run(client, wf)
    assert (await baton.status(wf.id, oban=client)).state == "completed"

    code, out, err = await cli("retry", wf.id, "--dsn", installed)
    assert code == 0, err
    assert out.startswith(f"Nothing to retry in workflow {wf.id!r}")


async def test_retry_of_a_pruned_step_is_a_one_line_error(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, Workflow(name="pruned").add("boom", es.Failing.new()))
    await conn.execute("DELETE FROM oban_jobs WHERE meta->>'workflow_id' = %s", (wf.id,))
    code, _out, err = await cli("retry", wf.id, "--dsn", installed)
    one_line_error(code, err, f"Error: cannot retry workflow {wf.id!r}: the jobs of steps 'boom'")


# --- watch ---------------------------------------------------------------------------------


async def test_watch_follows_a_workflow_to_completion(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = brief()
    await wf.insert(oban=client)
    async with background("watch", wf.id, "--dsn", installed) as watcher:
        opening = await read_until(watcher.stdout, "watching")
        assert opening.strip() == f"watching brief ({wf.id}): running, 0/4 steps settled"
        await run(client, wf)
        async with asyncio.timeout(30):
            out, err = await watcher.communicate()
    assert watcher.returncode == 0, err
    text = out.decode()
    for step in ("fetch", "search[0]", "search[1]", "compile"):
        assert f"  {step}  executing  attempt 1" in text
        assert f"  {step}  completed  attempt 1" in text
    assert "workflow completed in " in text
    # the final frame: header, steps, progress
    assert "completed · 4/4 steps completed · took " in text
    assert "4/4 steps settled" in text


async def test_watch_exits_1_when_the_workflow_fails(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="flop").add("a", es.Quick.new()).add("boom", es.Failing.new(), deps="a")
    await wf.insert(oban=client)
    async with background("watch", wf.id, "--dsn", installed) as watcher:
        await read_until(watcher.stdout, "watching")
        await run(client, wf)
        async with asyncio.timeout(30):
            out, err = await watcher.communicate()
    assert watcher.returncode == 1, err
    assert "  boom  retryable  attempt 1  RuntimeError: boom" in out.decode()
    assert "workflow failed in " in out.decode()
    assert "failed · 1/2 steps completed" in out.decode()


async def test_watch_of_a_finished_workflow_returns_at_once(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    ok = await run(client, brief())
    failed = await run(client, Workflow(name="flop").add("boom", es.Failing.new()))
    assert (await cli("watch", ok.id, "--dsn", installed))[0] == 0
    assert (await cli("watch", failed.id, "--dsn", installed))[0] == 1


async def test_watch_exits_when_the_workflow_is_cancelled(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="doomed").add("a", es.Quick.new()).add("b", es.Reads.new(), deps="a")
    await wf.insert(oban=client)
    async with background("watch", wf.id, "--dsn", installed) as watcher:
        await read_until(watcher.stdout, "watching")
        await baton.cancel(wf.id, oban=client)
        async with asyncio.timeout(30):
            out, err = await watcher.communicate()
    assert watcher.returncode == 1, err
    assert "  a  cancelled  attempt 0" in out.decode()


async def test_watch_timeout(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="stuck").add("a", es.Quick.new()).insert(oban=client)
    code, out, err = await cli("watch", wf.id, "--dsn", installed, "--timeout", "0.5")
    assert code == 124
    assert err.splitlines() == [
        f"Error: workflow {wf.id!r} did not finish within 0.5 s",
        # no node runs any queue in this test
        "Hint: no running node serves queue 'default', which steps a wait for: start one "
        "with `baton start --queues default:10` (or unpause it)",
    ]
    assert "running · 0/1 steps completed" in out


# --- start ---------------------------------------------------------------------------------


async def test_start_runs_workflows_and_stops_on_sigterm(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with background(
        "start", "--dsn", installed, "--queues", "default:5,llm:2", "--node", "cli-test"
    ) as worker:
        started = await read_until(worker.stderr, "Baton started")
        assert "on node cli-test (schema 'public', queues default:5,llm:2" in started
        ok = await brief().insert(oban=client)
        priced = (
            await Workflow(name="priced")
            .add("ask", es.ReportsUsage.new({"usage": USAGE}))
            .insert(oban=client)
        )
        failed = await Workflow(name="flop").add("boom", es.Failing.new()).insert(oban=client)
        assert (await cli("watch", ok.id, "--dsn", installed))[0] == 0
        assert (await cli("watch", priced.id, "--dsn", installed))[0] == 0
        assert (await cli("watch", failed.id, "--dsn", installed))[0] == 1

        worker.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _out, err = await worker.communicate()
    assert worker.returncode == 0, err.decode()
    assert "SIGTERM received" in err.decode()
    assert "Baton stopped" in err.decode()
    assert "Traceback" not in err.decode()


async def test_start_rejects_malformed_queues(installed: str) -> None:
    code, _out, err = await cli("start", "--dsn", installed, "--queues", "default:ten")
    assert code == 2
    assert "expected name:limit pairs such as default:10,llm:2, got 'default:ten'" in err


async def test_start_says_a_zero_limit_is_the_problem(installed: str) -> None:
    code, _out, err = await cli("start", "--dsn", installed, "--queues", "llm:2,default:0")
    assert code == 2
    assert "the limit of queue 'default' must be at least 1" in err
    assert "name:limit pairs" not in err


async def test_start_reports_a_module_it_cannot_import(installed: str) -> None:
    code, _out, err = await cli("start", "--dsn", installed, "--import", "no_such_module")
    one_line_error(code, err, "Error: cannot import 'no_such_module': No module named")


# --- web -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
        return response.status, response.read().decode()


async def test_web_serves_the_view(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, brief())
    port = free_port()
    async with background("web", "--dsn", installed, "--port", str(port)) as server:
        await read_until(server.stderr, "Uvicorn running")
        status, page = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/")
        assert status == 200 and wf.id in page
        server.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _out, err = await server.communicate()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM), err.decode()
    assert "Traceback" not in err.decode()


async def test_web_refuses_to_listen_beyond_loopback_without_a_token(installed: str) -> None:
    code, _out, err = await cli("web", "--dsn", installed, "--host", "0.0.0.0")  # noqa: S104
    one_line_error(code, err, "Error: refusing to serve the web view on '0.0.0.0' without a token")


async def test_web_without_the_web_extra_says_what_to_install(installed: str) -> None:
    script = (
        "import sys; sys.modules['uvicorn'] = sys.modules['starlette'] = None; "
        "from baton.cli import main; main(['web', '--dsn', sys.argv[1]])"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        installed,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=environment(),
    )
    _out, err = await process.communicate()
    one_line_error(
        process.returncode or 0,
        err.decode(),
        "Error: the web view needs the 'web' extra: pip install 'baton-workflows[web]'",
    )


# --- one-line errors -----------------------------------------------------------------------

WITH_ID = ["status", "watch", "graph", "cancel", "retry"]


@pytest.mark.parametrize("command", WITH_ID)
async def test_unknown_id_is_a_one_line_error(
    command: str, installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    code, out, err = await cli(command, "no-such-id", "--dsn", installed)
    assert out == ""
    one_line_error(code, err, "Error: no workflow with id 'no-such-id'")


@pytest.mark.parametrize(
    "args", [[c, "some-id"] for c in WITH_ID] + [["list"], ["start"], ["web"], ["install"]]
)
async def test_unreachable_database_is_a_one_line_error(args: list[str]) -> None:
    code, _out, err = await cli(*args, "--dsn", UNREACHABLE)
    one_line_error(code, err, "Error: cannot reach the database: ")


@pytest.mark.parametrize("args", [[c, "some-id"] for c in WITH_ID] + [["list"], ["start"]])
async def test_missing_tables_are_a_one_line_error(args: list[str], installed: str) -> None:
    code, _out, err = await cli(*args, "--dsn", installed, "--prefix", "not_installed")
    one_line_error(
        code, err, "Error: Baton is not installed in schema 'not_installed': run baton install"
    )


async def test_no_database_given_is_a_usage_error(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        "list",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,  # no oban.toml here
        env=environment(),
    )
    _out, err = await process.communicate()
    assert process.returncode == 2
    assert "no database given" in err.decode()


async def test_dsn_from_oban_toml(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    wf = await run(client, brief())
    (tmp_path / "oban.toml").write_text(f'dsn = "{installed}"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        "status",
        wf.id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=environment(),
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"brief  {wf.id}")
