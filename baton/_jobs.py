"""A job as a workflow step: the identifiers Baton writes into ``oban_jobs.meta``.

``Workflow.insert`` writes them once; nothing Baton changes later lives in the meta.
"""

from __future__ import annotations

from oban import Job

from .errors import NotAWorkflowStep


def step_of(job: Job, reading: str) -> tuple[str, str, int]:
    """The job's ``(workflow id, step name, job id)``, for a read-side call.

    Raises:
        NotAWorkflowStep: the job was built but never inserted as a workflow step.
    """
    workflow_id = job.meta.get("workflow_id")
    step = job.meta.get("workflow_step")
    if not workflow_id or not step or job.id is None:
        raise NotAWorkflowStep(
            f"job {job.id} ({job.worker}) is not a workflow step: insert it with "
            f"Workflow.insert() to read {reading}"
        )
    return workflow_id, step, job.id
