"""Every ``# runnable`` example in docs/*.md, executed against the test database."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

import baton

DOCS = Path(__file__).parents[2] / "docs"


def runnable(doc: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / doc).read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if block.startswith("# runnable\n")]


async def run_example(doc: str, index: int, dsn: str) -> Any:
    namespace: dict[str, Any] = {"__name__": f"docs_{doc[:-3]}_{index}"}
    exec(compile(runnable(doc)[index], str(DOCS / doc), "exec"), namespace)  # noqa: S102
    return await namespace["main"](dsn)


@pytest.mark.parametrize(
    "doc", ["events.md", "llm.md", "operations.md", "workflows.md", "architecture.md"]
)
def test_docs_examples_are_all_checked(doc: str) -> None:
    expected = {"events.md": 1, "llm.md": 1, "operations.md": 2}
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
