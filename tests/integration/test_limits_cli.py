"""``baton limits``: listing keys with their usage and pause; set, remove, resume; bad input."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from oban import Oban

import baton
from tests.integration.test_cli_commands import cli, one_line_error


async def test_limits_lists_each_key_with_usage_and_pause(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    code, out, err = await cli("limits", "--dsn", installed)
    assert (code, out.strip()) == (0, "No rate limits set: see `baton limits set -h`."), err

    await baton.set_limit("openai", requests_per_minute=500, tokens_per_minute=200_000, oban=client)
    await baton.set_limit("slow", requests_per_minute=12, window=10, oban=client)
    await conn.execute(
        "INSERT INTO baton_limit_calls (key, at, tokens) "
        "VALUES ('openai', timezone('UTC', now()), 1500), "
        "('openai', timezone('UTC', now()), 500), "
        "('openai', timezone('UTC', now()) - interval '2 minutes', 9999)"
    )
    await conn.execute(
        "UPDATE baton_limits SET paused_until = timezone('UTC', now()) + interval '30 seconds' "
        "WHERE key = 'slow'"
    )
    code, out, err = await cli("limits", "--dsn", installed)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "KEY",
        "REQ/MIN",
        "TOKENS/MIN",
        "WINDOW",
        "REQUESTS",
        "TOKENS",
        "PAUSED",
    ]
    openai = next(line for line in lines if line.startswith("openai"))
    # the call older than the window is not counted
    assert openai.split() == ["openai", "500", "200,000", "60s", "2/500", "2,000/200,000", "-"]
    slow = next(line for line in lines if line.startswith("slow")).split()
    assert slow[:6] == ["slow", "12", "-", "10s", "0/2", "0"]
    assert slow[6].endswith("s") and 28 <= int(slow[6][:-1]) <= 30 and "UTC)" in slow[-1]

    code, out, err = await cli("limits", "--dsn", installed, "--json")
    assert code == 0, err
    listed = {item["key"]: item for item in json.loads(out)}
    assert listed["openai"]["requests_used"] == 2 and listed["openai"]["tokens_used"] == 2000
    assert listed["slow"]["paused_until"] is not None


async def test_limits_set_remove_and_resume(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    code, out, err = await cli(
        "limits", "--dsn", installed, "set", "anthropic", "--rpm", "50", "--tpm", "40000"
    )
    assert code == 0, err
    assert "anthropic" in out and "40,000" in out
    found = await baton.get_limit("anthropic", oban=client)
    assert found is not None
    assert (found.requests_per_minute, found.tokens_per_minute) == (50, 40_000)

    await baton.set_limit("anthropic", requests_per_minute=50, oban=client)
    await conn.execute(
        "UPDATE baton_limits SET paused_until = timezone('UTC', now()) + interval '1 hour'"
    )
    code, out, err = await cli("limits", "--dsn", installed, "resume", "anthropic")
    assert (code, out.strip()) == (0, "Resumed rate limit 'anthropic'."), err
    found = await baton.get_limit("anthropic", oban=client)
    assert found is not None and found.paused_until is None

    code, out, err = await cli("limits", "--dsn", installed, "remove", "anthropic")
    assert (code, out.strip()) == (0, "Removed rate limit 'anthropic'."), err
    assert await baton.limits(oban=client) == []


async def test_limits_bad_input_is_one_line(
    installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    code, _out, err = await cli("limits", "--dsn", installed, "set", "openai", "--rpm", "0")
    one_line_error(
        code,
        err,
        "Error: requests_per_minute must be above 0, got 0; to stop limiting, leave it out "
        "(or remove the key with baton.remove_limit)",
    )
    code, _out, err = await cli("limits", "--dsn", installed, "set", "openai")
    one_line_error(
        code, err, "Error: set_limit('openai') needs requests_per_minute, tokens_per_minute or both"
    )
    code, _out, err = await cli(
        "limits", "--dsn", installed, "set", "openai", "--rpm", "1", "--window", "5"
    )
    one_line_error(
        code,
        err,
        "Error: requests_per_minute=1 over a window of 5 s admits less than one; use a window "
        "of at least 60 s",
    )
    code, _out, err = await cli("limits", "--dsn", installed, "remove", "nobody")
    one_line_error(code, err, "Error: no rate limit 'nobody'")
    code, _out, err = await cli("limits", "--dsn", installed, "resume", "nobody")
    one_line_error(code, err, "Error: no rate limit 'nobody'")
    code, _out, err = await cli("limits", "--dsn", installed, "set", "openai", "--rpm", "many")
    assert code == 2 and "Invalid value for '--rpm': 'many' is not a valid integer" in err
