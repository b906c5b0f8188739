"""Each test session runs on a database of its own, dropped when the session ends.

Two pytest sessions start at once with the same ``DATABASE_URL`` (this session's); each
creates a table, writes its tag, waits for the other to do the same, then finds only its
own row. Sharing a database, the second ``CREATE TABLE`` or the row count would fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
from __future__ import annotations

import asyncio
import os
from pathlib import Path


async def test_alone(conn):
    tag, here = os.environ["PROBE_TAG"], Path(os.environ["PROBE_DIR"])
    [(name,)] = await (await conn.execute("SELECT current_database()")).fetchall()
    await conn.execute("CREATE TABLE probe (tag text)")
    await conn.execute("INSERT INTO probe VALUES (%s)", (tag,))
    (here / f"{tag}.db").write_text(name)
    other = here / ("b.db" if tag == "a" else "a.db")
    async with asyncio.timeout(90):
        while not other.exists():
            await asyncio.sleep(0.05)
    assert await (await conn.execute("SELECT tag FROM probe")).fetchall() == [(tag,)]
"""


def test_two_sessions_at_once_on_one_database_url_each_get_a_database_of_their_own(
    dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(ROOT),
        "-c",
        str(ROOT / "pyproject.toml"),
        str(tmp_path / "test_probe.py"),
    ]
    env = {**os.environ, "DATABASE_URL": dsn, "PROBE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    sessions = {
        tag: subprocess.Popen(
            command,
            cwd=ROOT,
            env={**env, "PROBE_TAG": tag},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tag in ("a", "b")
    }
    outputs = {tag: proc.communicate(timeout=120)[0] for tag, proc in sessions.items()}
    for tag, proc in sessions.items():
        assert proc.returncode == 0, f"session {tag}:\n{outputs[tag]}"

    names = {tag: (tmp_path / f"{tag}.db").read_text() for tag in sessions}
    ours = conninfo_to_dict(dsn)["dbname"]
    assert names["a"] != names["b"]
    for name in names.values():
        assert name != ours
        assert name.startswith(f"{ours}_"[:40])
    with psycopg.connect(dsn) as conn:
        [(left,)] = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", (list(names.values()),)
        ).fetchall()
    assert left == 0, f"not dropped: {names}"
