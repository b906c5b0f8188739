"""Property test of branches over real executions.

Random DAGs of up to 30 steps run in this process through Oban's real fetch and ack. Each
Baton step that completes skips a random subset of its direct dependents; some steps raise
on their only attempt, some are plain Oban workers, and ignore flags are random. Every step
must end as a small reference model of the rules predicts (skip-listed → skipped; every dep
skipped → skipped; a dep failed and not ignored → cancelled; else it runs), only the steps
that run have their code called, and the workflow finishes completed iff every step
completed or was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import oban
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oban import Oban

import baton
from baton import Workflow
from tests.integration.test_properties import run_everything, step_rows, workflow_row
from tests.support.db import RESET

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RAN: list[tuple[str, str]] = []


@baton.worker(queue="default", max_attempts=1)
class Brancher:
    """Records its run; completes skipping its ``skip`` arg, or raises."""

    async def perform_workflow(self, job: Any) -> Any:
        step = str(job.meta["workflow_step"])
        RAN.append((job.meta["workflow_id"], step))
        if job.args["outcome"] == "raise":
            raise RuntimeError(f"{step} failed on purpose")
        return baton.Complete({"step": step}, skip=job.args["skip"])


@oban.worker(queue="default", max_attempts=1)
class PlainStep:
    """A plain Oban worker as a step: records its run, then completes or raises."""

    async def process(self, job: Any) -> Any:
        RAN.append((job.meta["workflow_id"], str(job.meta["workflow_step"])))
        if job.args["outcome"] == "raise":
            raise RuntimeError("plain step failed on purpose")
        return None


@dataclass(frozen=True)
class Spec:
    name: str
    deps: tuple[str, ...]
    skip: tuple[str, ...]
    outcome: str  # complete | raise
    plain: bool
    ignore_discarded: bool


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Spec, ...]:
    count = draw(st.integers(2, 30))
    deps = [
        tuple(f"s{i}" for i in sorted(draw(st.sets(st.integers(0, j - 1), max_size=3))))
        if j
        else ()
        for j in range(count)
    ]
    dependents = {
        f"s{j}": [f"s{k}" for k in range(count) if f"s{j}" in deps[k]] for j in range(count)
    }
    specs = []
    for j in range(count):
        name = f"s{j}"
        plain = draw(st.integers(0, 5)) == 0
        choices = [] if plain else dependents[name]  # a plain worker cannot skip
        skip = tuple(draw(st.lists(st.sampled_from(choices), unique=True))) if choices else ()
        specs.append(
            Spec(
                name,
                deps[j],
                skip,
                draw(st.sampled_from(["complete", "complete", "complete", "raise"])),
                plain,
                draw(st.booleans()),
            )
        )
    return tuple(specs)


def predict(specs: tuple[Spec, ...]) -> tuple[dict[str, str], set[str]]:
    """Each step's outcome and the steps whose code ran, by the rules of docs/branches.md."""
    by_name = {spec.name: spec for spec in specs}
    outcome: dict[str, str] = {}
    ran: set[str] = set()
    for spec in specs:  # s0, s1, … is a dependency order
        states = [outcome[dep] for dep in spec.deps]
        named = any(
            outcome[dep] == "completed" and spec.name in by_name[dep].skip for dep in spec.deps
        )
        if named or (states and all(state == "skipped" for state in states)):
            outcome[spec.name] = "skipped"
        elif any(
            s == "cancelled" or (s == "discarded" and not spec.ignore_discarded) for s in states
        ):
            outcome[spec.name] = "cancelled"
        else:
            ran.add(spec.name)
            outcome[spec.name] = "completed" if spec.outcome == "complete" else "discarded"
    return outcome, ran


@SETTINGS
@given(specs=graphs())
async def test_random_branches_end_in_the_states_the_model_predicts(
    conn: psycopg.AsyncConnection[Any], client: Oban, specs: tuple[Spec, ...]
) -> None:
    await conn.execute(RESET)
    wf = Workflow(name="branch-property")
    for spec in specs:
        worker = PlainStep if spec.plain else Brancher
        wf.add(
            spec.name,
            worker.new({"outcome": spec.outcome, "skip": list(spec.skip)}),
            deps=spec.deps,
            ignore_discarded=spec.ignore_discarded,
        )
    await wf.insert(oban=client)
    RAN.clear()
    await run_everything(client)

    expected, expected_ran = predict(specs)
    rows = await step_rows(conn, wf.id)
    assert {name: outcome for name, (outcome, _state, _snoozed) in rows.items()} == expected
    jobs = {name: state for name, (_outcome, state, _snoozed) in rows.items()}
    assert jobs == {name: "cancelled" if o == "skipped" else o for name, o in expected.items()}
    assert sorted(step for workflow_id, step in RAN if workflow_id == wf.id) == sorted(expected_ran)
    finished = "completed" if set(expected.values()) <= {"completed", "skipped"} else "failed"
    assert await workflow_row(conn, wf.id) == (finished, 0, True)
    assert (await baton.status(wf.id, oban=client)).counts.get("skipped", 0) == sum(
        1 for o in expected.values() if o == "skipped"
    )
