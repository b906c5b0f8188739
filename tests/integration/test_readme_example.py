"""The README's example, extracted from README.md and run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg

import baton

README = Path(__file__).parents[2] / "README.md"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the README should have exactly one python example"
    return blocks[0]


async def test_readme_example_runs(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(readme_example(), str(README), "exec"), namespace)  # noqa: S102 - our own README

    finished = await namespace["main"](installed)

    assert isinstance(finished, baton.WorkflowFinished)
    assert finished.outcome == "completed"
    rows = await (
        await conn.execute("SELECT name, outcome, result FROM baton_steps ORDER BY name")
    ).fetchall()
    assert rows == [
        ("fetch", "completed", {"value": {"text": "contents of https://example.org"}}),
        ("summarize", "completed", {"value": {"summary": "contents of https://example.org"}}),
    ]
