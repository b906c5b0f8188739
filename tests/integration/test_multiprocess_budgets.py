"""A budget holds across processes: three worker processes, four slots each, run 30
concurrent steps of one workflow, each costing $0.10, under a budget of $1.00.

Charges are serialised by the workflow's row lock, so exactly ten steps store a result
(the tenth reaches the budget), the total is exactly $1.00, and every other step is
cancelled: those executing on any node are interrupted, the rest never start.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from tests.integration.test_multiprocess import rows, settle, workers
from tests.support import budget_steps as bs

pytestmark = pytest.mark.slow

NODES = ["budget-a", "budget-b", "budget-c"]
INTERRUPTED_WHERE = (
    "step {step!r} of workflow {id!r} was cancelled while it ran: perform_workflow was interrupted"
)
EXTRA = ["--queues", "default:4", "--await-signals", "--import", "tests.support.budget_steps"]


@pytest.mark.timeout(180)
async def test_a_budget_holds_across_worker_processes(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban, tmp_path: Path
) -> None:
    wf = Workflow(name="shared-budget", budget_usd=Decimal("1.00"))
    wf.add_many(
        "ask", [bs.Spends.new({"tokens": 10, "pause": 1.5, "jitter": True}) for _ in range(30)]
    )
    wf.add("final", bs.Spends.new({"tokens": 1}), deps=["ask"])
    async with workers(installed, tmp_path) as group:
        await group.start(NODES, EXTRA)
        await wf.insert(oban=client)
        await settle(conn, wf.id, timeout=120)

    status = await baton.status(wf.id)
    assert (status.state, status.reason) == ("failed", "budget")
    stored = await rows(
        conn,
        "SELECT result->'value'->>'pid', (usage->>'cost_usd')::numeric FROM baton_steps "
        "WHERE workflow_id = %s AND performed_at IS NOT NULL",
        (wf.id,),
    )
    assert len(stored) == 10  # the tenth reached the budget; no other stored anything
    assert len({pid for pid, _cost in stored}) > 1  # charged from several processes
    [[spent]] = await rows(conn, "SELECT spent_usd FROM baton_workflows WHERE id = %s", (wf.id,))
    assert spent == sum(cost for _pid, cost in stored) == Decimal("1.00")
    assert status.counts == {"completed": 10, "cancelled": 21}
    assert status.step("final").attempt == 0  # never started
    # Steps that had started were interrupted on their nodes (or, finishing first, had
    # their result refused); steps fetched after the stop were cancelled by the gate
    # without running; the others never left the queue.
    started = [s for s in status.steps if s.state == "cancelled" and s.attempt]
    assert started, "some steps were executing when the budget was reached"
    for step in started:
        assert step.error in (
            f"{INTERRUPTED_WHERE.format(step=step.name, id=wf.id)}",
            f"workflow {wf.id!r} reached its budget: the result was not stored",
            f"workflow {wf.id!r} reached its budget",
        ), step
