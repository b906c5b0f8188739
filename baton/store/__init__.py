"""Baton's database access: every statement Baton sends to PostgreSQL is executed here.

Statements live in ``baton/sql`` (one per file, prefix bound as an identifier, values as
parameters) and come back as the frozen dataclasses of ``_rows``. Callers get a function
per operation and never see a cursor.
"""

from __future__ import annotations

from ._calls import call_counts, insert_calls, prune_calls
from ._databases import answers, create_database, drop_database
from ._install import SCHEMA_VERSION, installed_version
from ._install import install as install_schema
from ._listen import listen, ping
from ._nodes import PRODUCER_MAX_AGE, served_queues
from ._prune import START as PRUNE_START
from ._prune import PrunedBatch, prune_batch, prune_cutoff
from ._rows import (
    CallRow,
    Charge,
    Edge,
    GraphRow,
    ResultPreview,
    StepContext,
    StepRow,
    StepStatusRow,
    StoredResult,
    SummaryRow,
    SweptStep,
    UsageRow,
    WorkflowRow,
)
from ._step_input import StepInput
from ._steps import (
    Addition,
    Completion,
    Stored,
    complete,
    dep_rows,
    insert_workflow,
    step_context,
    step_result,
    step_rows,
    store_charged_result,
    store_result,
    workflow_context,
)
from ._sweep import activate_stuck, settle_unseen
from ._workflows import (
    cancel,
    cancellable_jobs,
    edges_and_previews,
    list_workflows,
    retry,
    workflow_calls,
    workflow_exists,
    workflow_graph,
    workflow_results,
    workflow_steps,
    workflow_usage,
)

__all__ = [
    "PRODUCER_MAX_AGE",
    "PRUNE_START",
    "SCHEMA_VERSION",
    "Addition",
    "CallRow",
    "Charge",
    "Completion",
    "Edge",
    "GraphRow",
    "PrunedBatch",
    "ResultPreview",
    "StepContext",
    "StepInput",
    "StepRow",
    "StepStatusRow",
    "Stored",
    "StoredResult",
    "SummaryRow",
    "SweptStep",
    "UsageRow",
    "WorkflowRow",
    "activate_stuck",
    "answers",
    "call_counts",
    "cancel",
    "cancellable_jobs",
    "complete",
    "create_database",
    "dep_rows",
    "drop_database",
    "edges_and_previews",
    "insert_calls",
    "insert_workflow",
    "install_schema",
    "installed_version",
    "list_workflows",
    "listen",
    "ping",
    "prune_batch",
    "prune_calls",
    "prune_cutoff",
    "retry",
    "served_queues",
    "settle_unseen",
    "step_context",
    "step_result",
    "step_rows",
    "store_charged_result",
    "store_result",
    "workflow_calls",
    "workflow_context",
    "workflow_exists",
    "workflow_graph",
    "workflow_results",
    "workflow_steps",
    "workflow_usage",
]
