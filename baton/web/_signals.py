"""The web view's approve form: ``POST /api/workflows/{id}/signal?step=NAME``.

The request's body is the payload as JSON (empty: no payload), sent by the form a waiting
signal step shows on its workflow's page. The route is protected exactly like cancel and
retry (the token, then the CSRF header and same-origin checks, in ``_app``); this module
reads the body and maps each refusal of ``baton.signal`` to a 4xx with its message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from oban import Oban
from starlette.responses import JSONResponse

from .._signal import signal
from ..errors import (
    AlreadySignalled,
    InvalidSignal,
    NotASignalStep,
    SignalExpired,
    UnknownStep,
    WorkflowNotRunning,
)

#: The largest body read: the payload limit (1 MB of JSON) with room for its wrapping.
MAX_BODY = 1_100_000

#: Each refusal's HTTP status: unknown step 404, a state that forbids it 409, bad payload 400.
STATUS = (
    (UnknownStep, 404),
    (NotASignalStep, 409),
    (AlreadySignalled, 409),
    (SignalExpired, 409),
    (WorkflowNotRunning, 409),
    (InvalidSignal, 400),
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _payload(body: bytes) -> tuple[Any, JSONResponse | None]:
    """The body parsed as JSON (None when empty), or the 4xx saying why it is not."""
    if len(body) > MAX_BODY:
        return None, _error(413, f"the payload is over {MAX_BODY:,} bytes")
    if not body.strip():
        return None, None
    try:
        return json.loads(body.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, _error(400, "the payload is not UTF-8 text")
    except json.JSONDecodeError as error:
        return None, _error(
            400,
            f"the payload is not JSON: {error.msg} at line {error.lineno}, column {error.colno}",
        )


async def signal_response(
    oban: Oban, workflow_id: str, step: str | None, body: bytes
) -> JSONResponse:
    """Signal ``step`` with the body's payload; the JSON reply, or a 4xx naming the refusal.

    An unknown workflow raises ``UnknownWorkflow`` (the app's 404 handler answers it).
    """
    if not step:
        return _error(400, "name the step to signal: POST …/signal?step=NAME")
    payload, refused = _payload(body)
    if refused is not None:
        return refused
    try:
        await signal(workflow_id, step, payload, oban=oban)
    except tuple(kind for kind, _status in STATUS) as error:
        status = next(code for kind, code in STATUS if isinstance(error, kind))
        return _error(status, str(error))
    return JSONResponse({"workflow_id": workflow_id, "signalled": step})


__all__: Sequence[str] = ["MAX_BODY", "signal_response"]
