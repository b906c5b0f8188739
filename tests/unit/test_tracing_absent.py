"""Without ``opentelemetry`` installed, tracing does nothing and imports nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter where importing opentelemetry fails, as without the extra.
PROGRAM = """
import asyncio, sys
sys.modules["opentelemetry"] = None  # import opentelemetry -> ImportError
import baton
from baton import _tracing
from baton.store import StepContext
from oban import Job

assert _tracing.ENABLED is False
with _tracing.inserting("wf-1", "brief", 2) as traceparent:
    assert traceparent is None
step = StepContext("wf-1", "a", False, (), False, False, False, None)

async def call():
    return "outcome"

job = Job(worker="w", args={}, meta={"workflow_id": "wf-1", "workflow_step": "a"})
assert asyncio.run(_tracing.attempt(job, step, call)) == "outcome"
_tracing.record_usage(baton.LLMUsage("gpt-4o", 1, 1), "0.1")
assert not any(name.startswith("opentelemetry") and sys.modules[name] for name in sys.modules)
print("ok")
"""


def test_tracing_is_a_no_op_without_opentelemetry() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
