"""The ``baton`` command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

import baton


def baton_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_install_is_idempotent_and_reports_the_version(installed: str) -> None:
    for _ in range(2):
        done = baton_cli("install", "--dsn", installed)
        assert done.returncode == 0, done.stderr
        assert f"Baton schema version {baton.SCHEMA_VERSION} installed in schema 'public'" in (
            done.stdout
        )


def test_install_reads_database_url(installed: str) -> None:
    done = baton_cli("install", env={"DATABASE_URL": installed})
    assert done.returncode == 0, done.stderr


def test_unreachable_database_is_one_line_and_no_traceback() -> None:
    done = baton_cli("install", "--dsn", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: cannot reach the database:")
    assert "Traceback" not in done.stderr


def test_install_without_a_database_is_a_usage_error(tmp_path: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "baton", "install"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no oban.toml here
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN")},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "no database given" in done.stderr


def test_install_reads_oban_toml(installed: str, tmp_path: Any) -> None:
    (tmp_path / "oban.toml").write_text(f'dsn = "{installed}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "baton", "install"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN")},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_demo_on_a_given_database(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    done = baton_cli("demo", "--dsn", installed, "--topic", "tests")
    assert done.returncode == 0, done.stderr
    assert "result of compile:" in done.stdout
    assert "summary of a 6-word text about tests" in done.stdout
    for step in ("fetch", "sentiment", "entities", "summary", "compile"):
        assert any(line.split()[1:3] == [step, "completed"] for line in done.stdout.splitlines())
    outcomes = await (
        await conn.execute("SELECT outcome, count(*) FROM baton_steps GROUP BY outcome")
    ).fetchall()
    assert outcomes == [("completed", 5)]


@pytest.mark.slow
def test_demo_on_an_embedded_postgres() -> None:
    done = baton_cli("demo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No DATABASE_URL: starting an embedded PostgreSQL")
    assert "result of compile:" in done.stdout
