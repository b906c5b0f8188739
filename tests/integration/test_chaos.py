"""The crash suite's short version (``python -m tests.chaos.run``; docs/reliability.md).

Three worker processes run eight random DAG workflows whose steps call a fake LLM, while
the driver SIGKILLs workers at random and the workers now and then kill themselves between
storing a result and the ack. The suite checks the run itself and exits non-zero when an
assertion fails; this test runs it and reads its summary.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 270.0


def figures(output: str) -> dict[str, str]:
    """The summary table: each label's value."""
    return {
        match["label"]: match["value"]
        for match in re.finditer(r"^(?P<label>[a-zA-Z -]+?)\s{2,}(?P<value>\S+)", output, re.M)
    }


@pytest.mark.timeout(300)
async def test_short_crash_run_loses_nothing_and_calls_the_llm_once_per_stored_result(
    dsn: str, tmp_path: Path
) -> None:
    """The run makes (and drops) a database of its own on the session's server."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT), env.get("PYTHONPATH")) if part
    )
    command = [
        sys.executable,
        "-m",
        "tests.chaos.run",
        "--dsn",
        dsn,
        "--workers",
        "3",
        "--workflows",
        "8",
        "--kills",
        "6",
        "--crash-after-store",
        "0.1",
        "--timeout",
        "180",
        "--logs",
        str(tmp_path / "logs"),
    ]
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    report = f"stdout:\n{done.stdout}\nstderr (tail):\n{done.stderr[-4000:]}"
    print(done.stdout)
    assert done.returncode == 0, report

    found = figures(done.stdout)
    assert int(found["kills"]) > 0, report
    assert found["workflows"] == "8", report
    assert "8 finished, 8 completed" in done.stdout, report
    for label in (
        "duplicate calls",
        "runs after result stored",
        "lost steps",
        "out-of-order starts",
        "wrong results",
        "worker crashes",
    ):
        assert found[label] == "0", f"{label}: {found.get(label)}\n{report}"
    assert found["finished events per workflow"] == "1", report
    assert "PASSED" in done.stdout, report
