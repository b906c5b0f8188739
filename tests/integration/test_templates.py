"""Workflow templates run for real: from a file, through ``baton run``, and the guide's example."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.testing import drain_queue

import baton
from baton import Workflow
from tests.integration.test_cli_commands import UNREACHABLE, cli, environment, one_line_error
from tests.integration.test_docs_examples import run_example
from tests.support.db import wait_settled

ECHO = "tests.support.steps.Echo"

TEMPLATE = f"""
name = "templated"
context = {{ topic = "${{topic}}" }}

[params.topic]
description = "what to write about"

[params.pages]
default = [1, 2]

[[steps]]
name = "fetch"
worker = "{ECHO}"
args = {{ value = "${{pages}}" }}

[[steps]]
name = "pages"
worker = "{ECHO}"
deps = "fetch"
each = [{{ value = "page one of $topic" }}, {{ value = "page two" }}]

[[steps]]
name = "draft"
worker = "tests.support.dynamic_steps.Variant"
deps = ["pages"]
models = ["model-a", "model-b"]
args = {{ prompt = "$topic" }}

[[steps]]
name = "research"
deps = "fetch"

[[steps.workflow.steps]]
name = "read"
worker = "{ECHO}"
args = {{ value = "read $topic" }}

[[steps.workflow.steps]]
name = "note"
worker = "tests.support.steps.Other"
args = {{ value = "noted" }}
deps = "read"

[[steps]]
name = "compile"
worker = "{ECHO}"
deps = ["draft", "research/note", "pages"]
"""


def drafts(topic: str) -> dict[str, Any]:
    return {
        model: {"model": model, "text": f"{topic} by {model}"} for model in ("model-a", "model-b")
    }


async def stored(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> dict[str, Any]:
    cursor = await conn.execute(
        "SELECT name, result FROM baton_steps WHERE workflow_id = %s", (workflow_id,)
    )
    return {name: result and result["value"] for name, result in await cursor.fetchall()}


async def workflow_count(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT count(*) FROM baton_workflows")).fetchone()
    assert row is not None
    return int(row[0])


def expected_results(topic: str, pages: Any) -> dict[str, Any]:
    return {
        "fetch": pages,
        "pages[0]": f"page one of {topic}",
        "pages[1]": "page two",
        "draft[0]": drafts(topic)["model-a"],
        "draft[1]": drafts(topic)["model-b"],
        "research/read": f"read {topic}",
        "research/note": "noted",
        "compile": {
            "draft": drafts(topic),
            "research/note": "noted",
            "pages": [f"page one of {topic}", "page two"],
        },
    }


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "templated.toml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


# --- from a file ---------------------------------------------------------------------------


async def test_a_template_file_runs_to_completion(
    template: Path, conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    wf = await Workflow.from_file(template, params={"topic": "Baton"}).insert()
    await wait_settled(conn, wf.id)
    report = await baton.status(wf.id)
    assert (report.name, report.state) == ("templated", "completed")
    assert await stored(conn, wf.id) == expected_results("Baton", [1, 2])
    assert {step.name: step.model for step in report.steps if step.model} == {
        "draft[0]": "model-a",
        "draft[1]": "model-b",
    }
    row = await (
        await conn.execute("SELECT context FROM baton_workflows WHERE id = %s", (wf.id,))
    ).fetchone()
    assert row == ({"topic": "Baton"},)


# --- baton run -----------------------------------------------------------------------------


async def test_baton_run_watch_inserts_runs_and_exits_0(
    template: Path, installed: str, conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    code, out, err = await cli(
        "run",
        str(template),
        "--dsn",
        installed,
        "--arg",
        "topic=Oban",
        "--json-arg",
        'pages={"n": [3]}',
        "--watch",
        "--timeout",
        "60",
    )
    assert code == 0, err
    lines = out.splitlines()
    workflow_id = lines[0]
    assert str(uuid.UUID(workflow_id)) == workflow_id
    # the queues run in this process: steps may settle before watch's first status read
    # (subscribing waits for settlements in flight), so the opening count is 0 or more
    assert re.fullmatch(
        rf"watching templated \({workflow_id}\): running, \d/8 steps settled", lines[1]
    )
    assert "workflow completed in " in out
    assert "8/8 steps settled" in out
    assert await stored(conn, workflow_id) == expected_results("Oban", {"n": [3]})


async def test_baton_run_prints_only_the_id(
    template: Path, installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    code, out, err = await cli("run", str(template), "--dsn", installed, "--arg", "topic=x")
    assert (code, err) == (0, "")
    workflow_id = out.strip()
    assert out == f"{workflow_id}\n"
    report = await baton.status(workflow_id, oban=client)
    assert (report.name, report.state, len(report.steps)) == ("templated", "running", 8)
    assert report.step("fetch").state == "available"


async def test_baton_run_watch_exits_1_when_the_workflow_fails(
    tmp_path: Path, installed: str, conn: psycopg.AsyncConnection[Any], running: Oban
) -> None:
    path = tmp_path / "failing.json"
    path.write_text(
        '{"name": "doomed", "steps": ['
        '{"name": "bad", "worker": "tests.support.steps.Outcome", "args": {"outcome": "discard"}},'
        f'{{"name": "after", "worker": "{ECHO}", "deps": "bad"}}]}}',
        encoding="utf-8",
    )
    code, out, err = await cli("run", str(path), "--dsn", installed, "--watch")
    assert code == 1, err
    assert "workflow failed in " in out
    report = await baton.status(out.splitlines()[0])
    assert report.step("bad").state == "discarded"
    assert report.step("after").state == "cancelled"


async def test_a_bad_template_is_a_one_line_error_and_inserts_nothing(
    tmp_path: Path, template: Path, installed: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TEMPLATE.replace('deps = ["pages"]', 'dep = ["pages"]'), encoding="utf-8")
    code, out, err = await cli("run", str(bad), "--dsn", installed, "--arg", "topic=x")
    assert out == ""
    one_line_error(
        code, err, f"Error: {bad}: steps[2] ('draft'): unknown key 'dep'; did you mean 'deps'?"
    )

    code, out, err = await cli("run", str(template), "--dsn", installed)
    one_line_error(
        code,
        err,
        f"Error: {template}: params.topic: required, but no value was given (what to write "
        "about); pass one: params={'topic': ...}, or `baton run --arg topic=VALUE`",
    )

    unparsable = tmp_path / "broken.json"
    unparsable.write_text('{"steps": [', encoding="utf-8")
    code, out, err = await cli("run", str(unparsable), "--dsn", installed)
    one_line_error(code, err, f"Error: {unparsable}: not valid JSON: Expecting value")

    code, out, err = await cli(
        "run", str(template), "--dsn", installed, "--arg", "topic=x", "--import", "no_such_mod"
    )
    one_line_error(code, err, "Error: cannot import 'no_such_mod': No module named")
    assert await workflow_count(conn) == 0


async def test_database_problems_are_one_line_errors(template: Path, installed: str) -> None:
    code, _out, err = await cli("run", str(template), "--dsn", UNREACHABLE, "--arg", "topic=x")
    one_line_error(code, err, "Error: cannot reach the database: ")
    code, _out, err = await cli(
        "run", str(template), "--dsn", installed, "--prefix", "not_installed", "--arg", "topic=x"
    )
    one_line_error(
        code, err, "Error: Baton is not installed in schema 'not_installed': run baton install"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--arg", "topic"], "Invalid value for '--arg': expected KEY=VALUE, got 'topic'"),
        (["--arg", "=x"], "Invalid value for '--arg': expected KEY=VALUE, got '=x'"),
        (
            ["--json-arg", "pages=[1,"],
            "Invalid value for '--json-arg': the value of 'pages' is not JSON",
        ),
        (
            ["--arg", "topic=a", "--json-arg", "topic=1"],
            "Invalid value for '--json-arg': param 'topic' is given more than once",
        ),
        (["--arg", "topic=a", "--timeout", "5"], "--timeout applies to --watch: add --watch"),
    ],
)
async def test_bad_arguments_are_usage_errors(
    args: list[str],
    expected: str,
    template: Path,
    installed: str,
    conn: psycopg.AsyncConnection[Any],
) -> None:
    code, _out, err = await cli("run", str(template), "--dsn", installed, *args)
    assert code == 2, err
    assert f"Error: {expected}" in err
    assert "Traceback" not in err
    assert await workflow_count(conn) == 0


async def test_baton_run_resolves_workers_from_the_current_directory(
    tmp_path: Path,
    installed: str,
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = tmp_path / "tplproject"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "workers.py").write_text(
        "import baton\n\n\n"
        "@baton.worker(queue='default')\n"
        "class Hello:\n"
        "    async def perform_workflow(self, job):\n"
        "        return f\"hello {job.args['who']}\"\n",
        encoding="utf-8",
    )
    (tmp_path / "hello.toml").write_text(
        '[params.who]\n\n[[steps]]\nname = "hello"\nworker = "tplproject.workers.Hello"\n'
        'args = { who = "${who}" }\n',
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        "run",
        "hello.toml",
        "--dsn",
        installed,
        "--arg",
        "who=you",
        "--import",
        "tplproject",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=environment(),
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    workflow_id = out.decode().strip()
    # run the step here, where the project directory is importable too
    monkeypatch.syspath_prepend(str(tmp_path))
    await drain_queue(queue="default", oban=client, with_safety=True)
    assert await stored(conn, workflow_id) == {"hello": "hello you"}


# --- the guide's example -------------------------------------------------------------------


async def test_templates_doc_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    assert await run_example("templates.md", 0, installed) == ["HELLO, ADA!!!", "HI, ADA!!!"]
