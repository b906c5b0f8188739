"""The workflow builder: ``Workflow`` and ``Step``, its checks, encoding and templates.

``baton`` exports :class:`Workflow` and :class:`Step`; :func:`encode`, :func:`record`
and :func:`added_steps` are for the runtime (``Workflow.insert``, and the steps a running
step adds).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._builder import Workflow, added_steps
from ._encoding import encode, record
from ._step import Step

__all__: Sequence[str] = ["Step", "Workflow", "added_steps", "encode", "record"]
