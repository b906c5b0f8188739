"""Fixtures shared by the integration tests that run worker subprocesses."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support.proc_steps import CALLS_TABLE


@pytest.fixture
async def calls(conn: psycopg.AsyncConnection[Any]) -> psycopg.AsyncConnection[Any]:
    """``conn``, with an empty ``test_calls`` table (``proc_steps`` records calls there)."""
    await conn.execute(CALLS_TABLE)
    await conn.execute("TRUNCATE test_calls")
    return conn
