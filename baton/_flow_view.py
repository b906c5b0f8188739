"""How the views say what a workflow's deadline and unique key are doing.

One line of plain text, shared by ``baton status``/``watch`` and the web view:
``deadline 14:02:11 UTC (in 9 s) · unique key 'ticket:42'``, or, once the deadline failed
it, ``failed: its deadline passed at 14:02:11 UTC``.
"""

from __future__ import annotations

import math
from datetime import datetime

from ._status import WorkflowStatus


def flow_note(status: WorkflowStatus, now: datetime) -> str:
    """The deadline and unique key of ``status`` in words; empty when it has neither."""
    parts = []
    if status.deadline_at is not None:
        at = status.deadline_at.strftime("%H:%M:%S UTC")
        if status.reason == "deadline":
            parts.append(f"failed: its deadline passed at {at}")
        elif status.state == "running":
            left = (status.deadline_at - now).total_seconds()
            parts.append(f"deadline {at} ({f'in {math.ceil(left)} s' if left > 0 else 'due'})")
        else:
            parts.append(f"deadline {at}")
    if status.unique_key is not None:
        parts.append(f"unique key {status.unique_key!r}")
    return " · ".join(parts)
