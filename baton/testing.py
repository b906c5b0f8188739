"""Helpers for testing code that builds and runs workflows.

Example:
    >>> from baton.testing import run_workflow
    >>> async def test_brief(oban):          # an Oban instance on a test database
    ...     results = await run_workflow(build_brief("Baton"))
    ...     assert results["compile"]["brief"]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oban import Oban
from oban.testing import drain_queue

from . import _oban
from ._control import status
from ._results import results
from ._signal import signal
from .errors import NotASignalStep, WorkflowFailed
from .workflow import Workflow

MAX_ROUNDS = 1_000


async def run_workflow(
    workflow: Workflow,
    *,
    signals: Mapping[str, Any] | None = None,
    oban: Oban | str | None = None,
) -> dict[str, Any]:
    """Insert ``workflow`` and run all of it in this process, then return its results.

    Every queue the steps use is drained in this process (retries and snoozes are run at
    once rather than after their delay), through Oban's real fetch and ack, so gating,
    activation and result storage behave as in production. The Oban instance needs no
    running queues.

    Steps the workflow adds while it runs (``baton.Complete(add=...)``) run too, in
    whatever queues they use.

    ``signals`` maps signal steps (``add_signal``) to their payloads, sent right after the
    insert: each is kept until its step is ready. A signal step with a timeout and no
    signal here is discarded when the drain reaches it (as if its timeout passed); one
    without a timeout is left waiting and reported as a failure.

    Returns:
        Each step's stored value by step name or path (None when it returned none), and
        for each group a list of its members' values under the group's name (a dict
        keyed by model for ``add_models``), steps added at run time included; skipped
        steps (``Complete(skip=...)``) are left out.

    Raises:
        WorkflowError: the workflow is invalid (empty, unknown dep, cycle, …) or was
            already inserted; nothing ran.
        WorkflowFailed: some step neither completed nor was skipped; ``.failures`` has each
            one's state and last error.
        NotASignalStep: ``signals`` names a step that is not a signal step; nothing ran.
    """
    workflow.validate()  # EmptyWorkflow before looking for a first step's job
    payloads = dict(signals or {})
    for name in payloads:
        if name not in workflow.steps or not workflow.steps[name].signal:
            raise NotASignalStep(
                f"run_workflow: signals names {name!r}, which is not a signal step of this "
                f"workflow (its signal steps: "
                f"{', '.join(n for n, s in workflow.steps.items() if s.signal) or 'none'})",
                workflow.id,
                name,
            )
    instance = _oban.instance_for_job(next(iter(workflow.steps.values())).job, oban)
    await workflow.insert(oban=instance)
    for name, payload in payloads.items():
        await signal(workflow.id, name, payload, oban=instance)
    queues = {step.job.queue for step in workflow.steps.values()}
    for _round in range(MAX_ROUNDS):
        ran = 0
        for queue in sorted(queues):
            summary = await drain_queue(queue=queue, oban=instance, with_safety=True)
            ran += sum(summary.values())
        report = await status(workflow.id, oban=instance)
        added = {step.queue for step in report.steps if step.queue} - queues
        if not ran and not added:
            break
        queues |= added
    failures = {
        step.name: (step.state, step.error)
        for step in report.steps
        if step.state not in ("completed", "skipped")  # a branch not taken is no failure
    }
    if failures:
        listed = "; ".join(f"{name}: {state}" for name, (state, _error) in failures.items())
        raise WorkflowFailed(f"workflow {workflow.id!r} did not complete ({listed})", failures)
    return await results(workflow.id, oban=instance)
