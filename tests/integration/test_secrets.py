"""Passwords never reach what Baton prints or logs (issue 14, defect 2), a bad ``--prefix``
is named as the option and an unpriced total is not "$0" (defect 7).

The CLI runs as a real subprocess; the web view is the real app over HTTP.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.errors import InvalidDSN
from baton.web import create_app
from tests.support import event_steps as es
from tests.support.event_steps import drain

SECRET = "Hunter2"  # noqa: S105 (the password the tests look for)
SQLALCHEMY = f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1/db"
LEADING_SPACE = f" postgresql://postgres:{SECRET}@127.0.0.1/db"
BRACKET = f"postgresql://postgres:{SECRET}@[::1/db"
QUOTED = f"host=127.0.0.1 user=postgres password='{SECRET} x"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """stdout and stderr of a ``baton`` command that must fail in one line, exit code 1."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN", "OBAN_PREFIX")
    }
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert len(done.stderr.strip().splitlines()) == 1, output
    assert SECRET not in output
    return done.stderr.strip()


@pytest.mark.parametrize("command", [["list"], ["status", "x"], ["install"], ["web"], ["start"]])
def test_dsn_flag_that_cannot_be_parsed(command: list[str]) -> None:
    said = cli(*command, "--dsn", SQLALCHEMY)
    assert said == (
        'Error: invalid --dsn: missing "=" after "postgresql+psycopg://postgres:***@127.0.0.1/db" '
        "in connection info string (libpq takes postgresql:// URLs, not postgresql+psycopg://)"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [(LEADING_SPACE, "starts or ends with white space"), (BRACKET, 'matching "]"')],
)
def test_database_url_that_cannot_be_parsed(url: str, says: str) -> None:
    said = cli("list", env={"DATABASE_URL": url})
    assert said.startswith("Error: invalid DATABASE_URL: ")
    assert says in said


def test_oban_toml_dsn_that_cannot_be_parsed(tmp_path: Path) -> None:
    (tmp_path / "oban.toml").write_text(f'dsn = "{BRACKET}"\n')
    said = cli("list", cwd=tmp_path)
    assert said.startswith("Error: invalid dsn (OBAN_DSN or oban.toml): ")
    assert "postgresql://postgres:***@[::1/db" in said


def test_key_value_dsn_with_a_quoted_password() -> None:
    said = cli("list", "--dsn", QUOTED)
    assert said == "Error: invalid --dsn: unterminated quoted string in connection info string"


def test_demo_refuses_the_dsn_before_connecting() -> None:
    assert cli("demo", env={"DATABASE_URL": BRACKET}).startswith("Error: invalid DATABASE_URL: ")


def test_unreachable_server_names_no_password() -> None:
    said = cli("list", "--dsn", f"postgresql://postgres:{SECRET}@127.0.0.1:1/db")
    assert said.startswith("Error: cannot reach the database: ")
    assert "port 1 failed" in said


@pytest.mark.parametrize("dsn", [SQLALCHEMY, LEADING_SPACE, BRACKET, QUOTED])
def test_web_app_refuses_the_dsn_at_once_and_logs_nothing(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidDSN) as raised:
        create_app(dsn=dsn)
    assert time.monotonic() - started < 1
    assert str(raised.value).startswith("invalid dsn: ")
    assert SECRET not in str(raised.value)
    assert SECRET not in caplog.text


async def test_install_refuses_the_dsn() -> None:
    with pytest.raises(InvalidDSN) as raised:
        await baton.install(SQLALCHEMY)
    assert SECRET not in str(raised.value)
    assert str(raised.value).startswith('invalid dsn: missing "="')


async def test_subscribe_refuses_the_dsn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidDSN) as raised:
        async with baton.subscribe(dsn=BRACKET):
            pass
    assert SECRET not in str(raised.value)
    assert SECRET not in caplog.text


async def test_web_503_for_an_unreachable_database_names_no_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(dsn=f"postgresql://postgres:{SECRET}@127.0.0.1:1/db?connect_timeout=1")
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.DEBUG):
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            response = await client.get("/api/workflows")
    assert response.status_code == 503
    assert "cannot reach the database" in response.text
    assert SECRET not in response.text
    assert SECRET not in caplog.text


# --- issue 14, defect 7: a bad --prefix is named as the option -----------------------------

PREFIX_SAYS = "prefix 'public; drop' is not a valid schema name: use lower-case letters"


@pytest.mark.parametrize("command", [["list"], ["status", "x"], ["install"], ["web"]])
def test_prefix_option_that_is_not_a_schema_name(installed: str, command: list[str]) -> None:
    said = cli(*command, "--dsn", installed, "--prefix", "public; drop")
    assert said.startswith(f"Error: invalid --prefix: {PREFIX_SAYS}")


def test_prefix_from_the_environment_and_oban_toml(installed: str, tmp_path: Path) -> None:
    said = cli("list", "--dsn", installed, env={"OBAN_PREFIX": "public; drop"})
    assert said.startswith(f"Error: invalid OBAN_PREFIX: {PREFIX_SAYS}")
    (tmp_path / "oban.toml").write_text(f'dsn = "{installed}"\nprefix = "public; drop"\n')
    said = cli("list", cwd=tmp_path)
    assert said.startswith(f"Error: invalid prefix (oban.toml): {PREFIX_SAYS}")


# --- issue 14, defect 7: no "$0" total when every step is unpriced -------------------------


async def test_web_total_of_unpriced_steps_is_unpriced_not_zero(client: Oban) -> None:
    unknown = {"model": "no-such-model", "input_tokens": 1200, "output_tokens": 80}
    workflow = Workflow(name="unpriced").add("ask", es.ReportsUsage.new({"usage": unknown}))
    await workflow.insert()
    assert (await drain(client, "llm"))["completed"] == 1
    app = create_app(oban=client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
        detail = (await web.get(f"/api/workflows/{workflow.id}")).json()
        page = (await web.get(f"/workflows/{workflow.id}")).text
    assert detail["usage"]["cost_usd"] is None
    assert detail["usage"]["unpriced_steps"] == ["ask"]
    assert "1,200 in / 80 out · unpriced" in page
    assert "$0" not in page
