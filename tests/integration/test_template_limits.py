"""``baton run`` on hostile template files: one line each, nothing inserted, no hang.

Also: the current directory does not shadow installed modules (issue 14, defect 5).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.test_cli_commands import cli, environment, one_line_error

ECHO = "tests.support.steps.Echo"


async def workflow_count(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT count(*) FROM baton_workflows")).fetchone()
    assert row is not None
    return int(row[0])


def hostile(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A template file of ``kind`` and the end of the one-line error it must give."""
    match kind:
        case "fifo":
            path = tmp_path / "pipe.json"
            os.mkfifo(path)
            return path, "not a regular file (a template is read from a file)"
        case "dev-zero":
            path = tmp_path / "zero.json"
            path.symlink_to("/dev/zero")
            return path, "not a regular file (a template is read from a file)"
        case "too-big":
            path = tmp_path / "big.json"
            path.write_text(json.dumps({"x": "a" * 1_100_000}), encoding="utf-8")
            return path, "over 1,048,576 bytes, the limit of a template file; pass large data by "
        case "too-deep":
            path = tmp_path / "deep.json"
            path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
            return path, "nested too deeply to parse (a template may nest 64 levels)"
        case "expands":
            path = tmp_path / "expands.json"
            each = [{"v": "${big}"}] * 3_500
            data = {
                "params": {"big": {"default": "x" * 240_000}},
                "steps": [{"name": "a", "worker": ECHO, "each": each}],
            }
            path.write_text(json.dumps(data), encoding="utf-8")
            return path, "characters of JSON: a param is used in too many places, or its value "
        case _:  # "not-a-worker"
            path = tmp_path / "popen.json"
            steps = [{"name": "a", "worker": "subprocess.Popen", "args": {"args": ["true"]}}]
            path.write_text(json.dumps({"steps": steps}), encoding="utf-8")
            return path, "'subprocess.Popen' is not a worker: decorate the class with "


@pytest.mark.parametrize(
    "kind", ["fifo", "dev-zero", "too-big", "too-deep", "expands", "not-a-worker"]
)
async def test_baton_run_refuses_in_one_line(
    tmp_path: Path, kind: str, installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    path, says = hostile(tmp_path, kind)
    code, out, err = await cli("run", str(path), "--dsn", installed, timeout=30)
    one_line_error(code, err, f"Error: {path}: ")
    assert says in err
    assert out == ""
    assert await workflow_count(conn) == 0


async def test_the_current_directory_does_not_shadow_installed_modules(
    tmp_path: Path, installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    # tests.support.steps exists on PYTHONPATH; a copy in the current directory whose
    # Echo is no worker must lose to it (-P: python itself puts nothing first)
    shadow = tmp_path / "tests" / "support"
    shadow.mkdir(parents=True)
    for folder in (tmp_path / "tests", shadow):
        (folder / "__init__.py").write_text("", encoding="utf-8")
    (shadow / "steps.py").write_text("class Echo:\n    pass\n", encoding="utf-8")
    (tmp_path / "t.json").write_text(
        json.dumps({"steps": [{"name": "a", "worker": ECHO}]}), encoding="utf-8"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",
        "-m",
        "baton",
        "run",
        "t.json",
        "--dsn",
        installed,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=environment(),
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert await workflow_count(conn) == 1
    assert out.decode().strip()
