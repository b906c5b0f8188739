"""Every ``# runnable`` example in docs/*.md, executed against the test database."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

import baton
from tests.support.db import step_values

DOCS = Path(__file__).parents[2] / "docs"


def runnable(doc: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / doc).read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if block.startswith("# runnable\n")]


async def run_example(doc: str, index: int, dsn: str) -> Any:
    namespace: dict[str, Any] = {"__name__": f"docs_{doc[:-3]}_{index}"}
    exec(compile(runnable(doc)[index], str(DOCS / doc), "exec"), namespace)  # noqa: S102
    return await namespace["main"](dsn)


@pytest.mark.parametrize(
    "doc",
    [
        "events.md",
        "llm.md",
        "operations.md",
        "workflows.md",
        "architecture.md",
        "fan-out.md",
        "subworkflows.md",
        "models.md",
        "context.md",
        "templates.md",
        "budgets.md",
        "captured-calls.md",
    ],
)
def test_docs_examples_are_all_checked(doc: str) -> None:
    expected = {
        "events.md": 1,
        "llm.md": 1,
        "operations.md": 2,
        "fan-out.md": 1,
        "subworkflows.md": 1,
        "models.md": 1,
        "context.md": 1,
        "templates.md": 1,
        "budgets.md": 1,
        "captured-calls.md": 1,
    }
    assert len(runnable(doc)) == expected.get(doc, 0)


async def test_events_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    finished = await run_example("events.md", 0, installed)
    assert isinstance(finished, baton.WorkflowFinished)
    assert finished.outcome == "completed"
    assert finished.failed_steps == ()


async def test_llm_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    spent = await run_example("llm.md", 0, installed)
    assert spent.cost_usd == Decimal("0.000228")
    assert (spent.input_tokens, spent.output_tokens) == (1200, 80)
    assert [step.step for step in spent.steps] == ["summarize"]
    stored = await (await conn.execute("SELECT result FROM baton_steps")).fetchone()
    assert stored == ({"value": {"summary": "Baton runs DAGs on Oban."}},)


async def test_operations_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    first, rerun, last = await run_example("operations.md", 0, installed)
    assert first.state == "failed"
    assert first.step("flaky").state == "discarded"
    assert "upstream API down" in (first.step("flaky").error or "")
    assert first.step("after").state == "cancelled"
    assert rerun == ["flaky", "after"]
    assert last.state == "cancelled"


async def test_testing_helper_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    results = await run_example("operations.md", 1, installed)
    assert results == {
        "double[0]": 2,
        "double[1]": 4,
        "double[2]": 6,
        "double": [2, 4, 6],
        "total": 12,
    }


async def test_fan_out_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("fan-out.md", 0, installed)
    assert report.state == "completed"
    docs = [f"doc about baton #{n} (1 of 3)" for n in range(3)]
    assert await step_values(conn, report.id) == {
        "search": {"found": 3},
        "report": docs,
        **{f"search/summary[{n}]": doc for n, doc in enumerate(docs)},
    }


async def test_subworkflows_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("subworkflows.md", 0, installed)
    assert report.state == "completed"
    assert [step.name for step in report.steps] == [
        "python/search",
        "python/summarize",
        "elixir/search",
        "elixir/summarize",
        "compare",
    ]
    found = await step_values(conn, report.id)
    assert found["compare"] == {
        "python": "2 results",
        "elixir": {
            "search": ["elixir result 0", "elixir result 1"],
            "summarize": "2 results",
        },
    }


async def test_models_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report, spent = await run_example("models.md", 0, installed)
    assert [(step.name, step.model) for step in report.steps] == [
        ("draft[0]", "gpt-4o"),
        ("draft[1]", "claude-sonnet-4"),
        ("pick", "gpt-4o-mini"),
    ]
    found = await step_values(conn, report.id)
    assert found["pick"] == {
        "model": "gpt-4o",
        "text": "Baton, as gpt-4o puts it",
        "judge": "gpt-4o-mini",
    }
    assert {(row.step, row.model) for row in spent.steps} == {
        ("draft[0]", "gpt-4o"),
        ("draft[1]", "claude-sonnet-4"),
    }
    assert spent.cost_usd > 0


async def test_context_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("context.md", 0, installed)
    assert report.state == "completed"
    assert await step_values(conn, report.id) == {
        "detect": "acme",
        "write": "for engineers at acme, in fr",
    }


async def test_budgets_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    finished, report = await run_example("budgets.md", 0, installed)
    assert (finished.outcome, finished.reason) == ("failed", "budget")
    assert (report.state, report.reason) == ("failed", "budget")
    assert report.cost_usd == Decimal("0.30")
    assert [report.step(f"ask{i}").state for i in range(4)] == [
        "completed",
        "completed",
        "completed",
        "cancelled",
    ]
    assert report.step("ask3").attempt == 0


async def test_captured_calls_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    calls = await run_example("captured-calls.md", 0, installed)
    assert [(call.attempt, call.response) for call in calls] == [
        (1, {"text": "attempt 1"}),
        (2, {"text": "attempt 2"}),
    ]
    assert {call.request["headers"]["Authorization"] for call in calls} == {"***"}
