"""The step-input row: one step as the insert statements read it from JSON.

``insert_workflow.sql`` and ``expand_workflow.sql`` unpack the steps with
``jsonb_to_recordset(...) AS ({step_input})``; :data:`COLUMNS` is that column definition
list, generated from :class:`StepInput`'s fields, so the row the builder encodes and the
columns the statements read are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from psycopg import sql

# each field's metadata: its column's SQL type
_TEXT = {"sql": sql.SQL("text")}
_SMALLINT = {"sql": sql.SQL("smallint")}
_INTEGER = {"sql": sql.SQL("integer")}
_BOOLEAN = {"sql": sql.SQL("boolean")}
_JSONB = {"sql": sql.SQL("jsonb")}
_TIMESTAMP = {"sql": sql.SQL("timestamp")}
_DOUBLE = {"sql": sql.SQL("double precision")}


@dataclass(frozen=True, slots=True)
class StepInput:
    """One step to insert; each field is a column, its SQL type in the field's metadata.

    Attributes:
        name: the step's name (or path).
        queue: the job's queue.
        worker: the job's worker, a dotted path.
        max_attempts: the job's attempts.
        priority: the job's priority.
        args: the job's args.
        meta: the job's meta, with the workflow id, step name and model added.
        tags: the job's tags.
        scheduled_at: when the job may run (UTC, ISO 8601 without a zone), or None.
        pending: how many deps (expanded to steps) the step waits for.
        group_name: the step's group, if any.
        group_index: its position in that group.
        deps: the names the step declared.
        ignore_cancelled: the step's resolved flag.
        ignore_discarded: likewise.
        ignore_deleted: likewise.
        gated: the worker is a Baton worker (it checks its deps when it runs).
        callbacks: the worker is a Baton worker defining ``on_dep_cancelled`` or
            ``on_dep_discarded``: blocked, it is activated to call them; else cancelled.
        model: the step's resolved model, if any.
        by_model: a member of an ``add_models`` fan-out.
        signal: a signal step (``Workflow.add_signal``), completed by ``baton.signal``.
        signal_timeout: seconds a signal step waits once ready, or None for ever.
    """

    name: str = field(metadata=_TEXT)
    queue: str = field(metadata=_TEXT)
    worker: str = field(metadata=_TEXT)
    max_attempts: int = field(metadata=_SMALLINT)
    priority: int = field(metadata=_SMALLINT)
    args: dict[str, Any] = field(metadata=_JSONB)
    meta: dict[str, Any] = field(metadata=_JSONB)
    tags: list[str] = field(metadata=_JSONB)
    scheduled_at: str | None = field(metadata=_TIMESTAMP)
    pending: int = field(metadata=_INTEGER)
    group_name: str | None = field(metadata=_TEXT)
    group_index: int | None = field(metadata=_INTEGER)
    deps: list[str] = field(metadata=_JSONB)
    ignore_cancelled: bool = field(metadata=_BOOLEAN)
    ignore_discarded: bool = field(metadata=_BOOLEAN)
    ignore_deleted: bool = field(metadata=_BOOLEAN)
    gated: bool = field(metadata=_BOOLEAN)
    callbacks: bool = field(metadata=_BOOLEAN)
    model: str | None = field(metadata=_TEXT)
    by_model: bool = field(metadata=_BOOLEAN)
    signal: bool = field(default=False, metadata=_BOOLEAN)
    signal_timeout: float | None = field(default=None, metadata=_DOUBLE)

    def as_json(self) -> dict[str, Any]:
        """The row as the JSON object the statements read (values not copied)."""
        return {name: getattr(self, name) for name in NAMES}


NAMES: tuple[str, ...] = tuple(column.name for column in fields(StepInput))

#: ``name text, queue text, …``: the column definitions, for ``{step_input}``.
COLUMNS: sql.Composed = sql.SQL(", ").join(
    sql.SQL("{} {}").format(sql.Identifier(column.name), column.metadata["sql"])
    for column in fields(StepInput)
)


__all__: Sequence[str] = ["COLUMNS", "NAMES", "StepInput"]
