from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from tests.support.db import RESET, test_dsn


@pytest.fixture(scope="session")
def dsn() -> Iterator[str]:
    with test_dsn() as url:
        yield url


@pytest.fixture(scope="session")
async def installed(dsn: str) -> str:
    await baton.install(dsn)
    return dsn


@pytest.fixture
async def conn(installed: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(installed, autocommit=True) as connection:
        await connection.execute(RESET)
        yield connection


@pytest.fixture
async def oban_pool(installed: str, conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[Any]:
    pool = await Oban.create_pool(installed, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def client(oban_pool: Any) -> AsyncIterator[Oban]:
    """An Oban instance that runs no queues (tests drain or run workers themselves)."""
    oban = Oban(pool=oban_pool, leadership=False)
    yield oban


@pytest.fixture
async def running(oban_pool: Any) -> AsyncIterator[Oban]:
    """An Oban instance running the test queues in this process."""
    oban = Oban(
        pool=oban_pool,
        queues={"default": 10, "other": 5},
        stager={"interval": 0.1},
    )
    async with oban:
        yield oban
