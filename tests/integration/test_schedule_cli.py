"""``baton start --schedule FILE``: a template's ``[schedule]`` run by the node."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.test_cli_commands import background, cli, one_line_error, read_until
from tests.support.db import wait_until

TEMPLATE = """
name = "stamped"

[schedule]
cron = "{cron}"

[params.tick]

[[steps]]
name = "stamp"
worker = "tests.support.steps.Echo"
args = {{ value = "tick ${{tick}}" }}
"""


def template(tmp_path: Path, cron: str) -> str:
    path = tmp_path / "stamped.toml"
    path.write_text(TEMPLATE.format(cron=cron))
    return str(path)


async def test_a_bad_schedule_stops_start_with_one_line_naming_the_file(
    installed: str, tmp_path: Path
) -> None:
    bad_cron = template(tmp_path, "99 * * * *")
    code, _out, err = await cli("start", "--dsn", installed, "--schedule", bad_cron)
    one_line_error(
        code, err, f"Error: {bad_cron}: schedule 'stamped': '99 * * * *' is not a cron expression"
    )
    plain = tmp_path / "plain.toml"
    plain.write_text('[[steps]]\nname = "a"\nworker = "tests.support.steps.Echo"\n')
    code, _out, err = await cli("start", "--dsn", installed, "--schedule", str(plain))
    one_line_error(code, err, f"Error: {plain}: schedule: missing: a template run on a schedule")
    missing = str(tmp_path / "no.toml")
    code, _out, err = await cli("start", "--dsn", installed, "--schedule", missing)
    one_line_error(code, err, f"Error: {missing}: ")


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_start_builds_the_template_s_workflow_at_each_tick(
    installed: str, conn: psycopg.AsyncConnection[Any], tmp_path: Path
) -> None:
    await conn.execute("TRUNCATE baton_schedule_ticks")
    path = template(tmp_path, "* * * * *")
    async with background("start", "--dsn", installed, "--schedule", path) as node:
        logged = await read_until(node.stderr, "Baton started")
        assert f"schedule 'stamped': * * * * *, from {path}" in logged
        await wait_until(
            conn,
            "SELECT count(*) > 0 FROM baton_workflows WHERE name = 'stamped' "
            "AND outcome = 'completed'",
            timeout=150,
        )
        node.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _out, err = await node.communicate()
    assert node.returncode == 0 and "Traceback" not in err.decode()
    built = await (
        await conn.execute(
            "SELECT t.tick, s.result FROM baton_schedule_ticks t "
            "JOIN baton_steps s ON s.workflow_id = t.workflow_id WHERE t.schedule = 'stamped'"
        )
    ).fetchall()
    assert built and all(result == {"value": f"tick {tick.isoformat()}"} for tick, result in built)
