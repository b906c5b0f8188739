"""The benchmark's database: where it is, installing it, resetting it between runs.

The benchmark empties Oban's and Baton's job tables before every run, so it refuses a
database whose ``oban_jobs`` holds rows it did not write (see ``claim``).
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

import baton
from baton._database import private_database

BENCH_DATABASE = "baton_bench"
MARKER = "baton_bench_marker"

RESET = """
TRUNCATE TABLE oban_jobs, baton_workflows, baton_steps, baton_edges, baton_usage,
    baton_limit_calls, baton_calls RESTART IDENTITY
"""


class UnsafeDatabase(RuntimeError):
    """The database holds jobs the benchmark did not write."""


@contextlib.contextmanager
def bench_dsn(dsn: str | None) -> Iterator[str]:
    """The DSN to use: ``--dsn``; else a database of this run's own, dropped afterwards:
    ``baton_bench_<pid>_<random>`` on 127.0.0.1:5432 when a server answers there, else an
    embedded PostgreSQL.

    ``DATABASE_URL`` is deliberately not used: the benchmark truncates job tables.
    """
    if dsn:
        yield dsn
    else:
        with private_database(BENCH_DATABASE) as url:
            yield url


async def prepare(dsn: str, *, force: bool) -> None:
    """Install Oban's and Baton's tables and claim the database for the benchmark."""
    await baton.install(dsn)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        marked = await (await conn.execute("SELECT to_regclass(%s)", (MARKER,))).fetchone()
        if marked is None or marked[0] is None:
            row = await (await conn.execute("SELECT count(*) FROM oban_jobs")).fetchone()
            jobs = row[0] if row else 0
            if jobs and not force:
                raise UnsafeDatabase(
                    f"{redact(dsn)} holds {jobs} Oban jobs the benchmark did not write; it "
                    "empties oban_jobs and Baton's tables before every run. Use a dedicated "
                    "database, or pass --force to allow it."
                )
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (claimed_at timestamptz DEFAULT now())"
                ).format(sql.Identifier(MARKER))
            )
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (x integer)")
        await conn.execute(RESET)


async def reset(conn: psycopg.AsyncConnection[Any]) -> None:
    """Empty the job and workflow tables (workers may stay up: they hold no locks idle)."""
    await conn.execute(RESET)


async def commit_floor(conn: psycopg.AsyncConnection[Any], pairs: int = 100) -> list[float]:
    """Seconds for two consecutive single-row INSERT commits on this connection (loopback).

    The floor a hand-off cannot beat: the dependency's completion and the dependent's
    start are each at least one commit.
    """
    samples = []
    await conn.execute("TRUNCATE bench_floor")
    for _ in range(pairs):
        started = time.perf_counter()
        await conn.execute("INSERT INTO bench_floor VALUES (1)")
        await conn.execute("INSERT INTO bench_floor VALUES (2)")
        samples.append(time.perf_counter() - started)
    await conn.execute("TRUNCATE bench_floor")
    return samples


def redact(dsn: str) -> str:
    """The DSN without its password."""
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return dsn


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


async def machine(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """What the figures were measured on."""
    row = await (await conn.execute("SHOW server_version")).fetchone()
    settings = {}
    for name in ("synchronous_commit", "fsync", "shared_buffers", "max_connections"):
        found = await (
            await conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
        ).fetchone()
        settings[name] = found[0] if found else None
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "postgres": row[0] if row else None,
        "postgres_settings": settings,
        "oban": _version("oban"),
        "baton": _version("baton-workflows"),
        "psycopg": _version("psycopg"),
        "celery": _version("celery"),
        "loadavg_start": list(os.getloadavg()),
    }
