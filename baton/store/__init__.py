"""Baton's database access: every statement Baton sends to PostgreSQL is executed here.

Statements live in ``baton/sql`` (one per file, prefix bound as an identifier, values as
parameters) and come back as the frozen dataclasses of ``_rows``. Callers get a function
per operation and never see a cursor.
"""

from __future__ import annotations

from ._calls import call_counts, insert_calls, prune_calls
from ._databases import answers, create_database, drop_database
from ._events import notify_output
from ._flow import expire_deadlines
from ._install import SCHEMA_VERSION, installed_version
from ._install import install as install_schema
from ._limits import acquire as acquire_limit
from ._limits import correct as correct_limit
from ._limits import limits as limit_rows
from ._limits import pause as pause_limit
from ._limits import remove as remove_limit
from ._limits import resume as resume_limit
from ._limits import set_limit
from ._listen import listen
from ._nodes import PRODUCER_MAX_AGE, served_queues
from ._presence import leave as leave_presence
from ._presence import register as register_presence
from ._presence import renew as renew_presence
from ._prune import START as PRUNE_START
from ._prune import PrunedBatch, prune_batch, prune_cutoff
from ._rows import (
    Admission,
    CallRow,
    Charge,
    Edge,
    GraphRow,
    LimitRow,
    ResultPreview,
    SignalTarget,
    StepContext,
    StepRow,
    StepStatusRow,
    StoredResult,
    SummaryRow,
    SweptStep,
    UsageReportRow,
    UsageRow,
    WorkflowRow,
)
from ._schedules import claim_tick
from ._signals import signal, take_signal
from ._skips import Skip, SkipTargets
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
from ._usage import usage_report
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
    "Admission",
    "CallRow",
    "Charge",
    "Completion",
    "Edge",
    "GraphRow",
    "LimitRow",
    "PrunedBatch",
    "ResultPreview",
    "SignalTarget",
    "Skip",
    "SkipTargets",
    "StepContext",
    "StepInput",
    "StepRow",
    "StepStatusRow",
    "Stored",
    "StoredResult",
    "SummaryRow",
    "SweptStep",
    "UsageReportRow",
    "UsageRow",
    "WorkflowRow",
    "acquire_limit",
    "activate_stuck",
    "answers",
    "call_counts",
    "cancel",
    "cancellable_jobs",
    "claim_tick",
    "complete",
    "correct_limit",
    "create_database",
    "dep_rows",
    "drop_database",
    "edges_and_previews",
    "expire_deadlines",
    "insert_calls",
    "insert_workflow",
    "install_schema",
    "installed_version",
    "leave_presence",
    "limit_rows",
    "list_workflows",
    "listen",
    "notify_output",
    "pause_limit",
    "prune_batch",
    "prune_calls",
    "prune_cutoff",
    "register_presence",
    "remove_limit",
    "renew_presence",
    "resume_limit",
    "retry",
    "served_queues",
    "set_limit",
    "settle_unseen",
    "signal",
    "step_context",
    "step_result",
    "step_rows",
    "store_charged_result",
    "store_result",
    "take_signal",
    "usage_report",
    "workflow_calls",
    "workflow_context",
    "workflow_exists",
    "workflow_graph",
    "workflow_results",
    "workflow_steps",
    "workflow_usage",
]
