"""``baton prune`` and ``baton start --prune-after / --no-prune`` as real subprocesses."""

from __future__ import annotations

import json
import signal
from typing import Any

import psycopg
import pytest
from oban import Oban

from baton import Workflow
from tests.integration.test_cli_commands import background, cli, read_until
from tests.support.db import wait_until
from tests.support.event_steps import drain
from tests.support.steps import Echo


async def finished_chain(client: Oban) -> Workflow:
    wf = Workflow(name="old").add("a", Echo.new({"value": 1})).add("b", Echo.new(), deps=["a"])
    await wf.insert(oban=client)
    await drain(client)
    return wf


async def count(conn: psycopg.AsyncConnection[Any], table: str) -> int:
    found = await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone()  # noqa: S608
    assert found is not None
    return int(found[0])


async def test_prune_prints_its_counts_and_a_dry_run_deletes_nothing(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await finished_chain(client)

    code, out, err = await cli("prune", "--older-than", "0", "--dry-run", "--dsn", installed)
    assert code == 0, err
    assert out == (
        "Would prune 1 finished workflow: 2 steps, 1 edge, 2 jobs (dry run: nothing deleted).\n"
    )
    assert await count(conn, "baton_steps") == 2

    code, out, err = await cli("prune", "--older-than", "7d", "--dsn", installed)
    assert (code, out) == (0, "Nothing to prune: no workflow finished more than 7d ago.\n"), err

    await finished_chain(client)
    code, out, err = await cli("prune", "--older-than", "0", "--limit", "2", "--dsn", installed)
    pruned = "Pruned 2 finished workflows: 4 steps, 2 edges, 4 jobs (2 batches).\n"
    assert (code, out) == (0, pruned), err
    await finished_chain(client)
    code, out, err = await cli("prune", "--older-than", "0s", "--json", "--dsn", installed)
    assert code == 0, err
    assert json.loads(out) == {
        "workflows": 1,
        "steps": 2,
        "edges": 1,
        "jobs": 2,
        "batches": 1,
        "dry_run": False,
        "calls": 0,
    }
    assert await count(conn, "baton_steps") == 0
    assert await count(conn, "oban_jobs") == 0


@pytest.mark.parametrize("bad", ["7x", "-1d", "d", "1.5.2h", ""])
async def test_a_bad_duration_is_a_one_line_usage_error(installed: str, bad: str) -> None:
    code, out, err = await cli("prune", "--older-than", bad, "--dsn", installed)
    assert (code, out) == (2, "")
    assert f"expected a duration such as 7d, 12h, 30m, 45s or 0, got {bad!r}" in err
    assert "Traceback" not in err


async def test_prune_needs_an_age(installed: str) -> None:
    code, _out, err = await cli("prune", "--dsn", installed)
    assert code == 2
    assert "Missing option '--older-than'" in err


async def test_start_prunes_on_the_leader_after_the_age_given(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await finished_chain(client)
    async with background("start", "--dsn", installed, "--prune-after", "0") as worker:
        started = await read_until(worker.stderr, "Baton started")
        assert "sweep every 60 s, prune after 0s)" in started
        await wait_until(conn, "SELECT count(*) = 0 FROM baton_workflows")
        worker.send_signal(signal.SIGTERM)
        await worker.wait()
    assert worker.returncode == 0


async def test_start_with_no_prune_says_so(installed: str) -> None:
    async with background("start", "--dsn", installed, "--no-prune") as worker:
        started = await read_until(worker.stderr, "Baton started")
        assert "sweep every 60 s, no pruning)" in started
        worker.send_signal(signal.SIGTERM)
        await worker.wait()
    assert worker.returncode == 0
