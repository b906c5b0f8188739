"""The README's user example, extracted from README.md and run as written (source tree).

``tests/integration/test_wheel.py`` runs the same example from a built wheel.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

import baton
from tests.support.readme import run_user_path

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


async def test_readme_example_runs(
    installed: str, conn: psycopg.AsyncConnection[Any], tmp_path: Path
) -> None:
    async with baton.subscribe(dsn=installed) as events:
        workflow_id, _watched = await asyncio.to_thread(run_user_path, BIN, installed, tmp_path)
        async with asyncio.timeout(30):
            async for event in events:
                if isinstance(event, baton.WorkflowFinished) and event.workflow_id == workflow_id:
                    finished = event
                    break

    assert isinstance(finished, baton.WorkflowFinished)
    assert finished.outcome == "completed"
    rows = await (
        await conn.execute("SELECT name, outcome, result FROM baton_steps ORDER BY name")
    ).fetchall()
    assert rows == [
        ("fetch", "completed", {"value": {"text": "contents of https://example.org"}}),
        ("summarize", "completed", {"value": {"summary": "contents of https://example.org"}}),
    ]
