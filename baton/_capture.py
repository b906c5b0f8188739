"""Captured calls: the request and response of each LLM call, stored with its step attempt.

``baton.capture(job, request=..., response=...)`` inside ``perform_workflow`` keeps the
call when capture is on for that step: its workflow was built with ``capture=True``, its
worker was declared with ``capture=True``, or the process switched it on
(``baton.capture_calls(True)``, or the environment variable ``BATON_CAPTURE_CALLS=1``).
Otherwise it returns at once and nothing is kept.

The calls of one attempt are kept in memory and written in one statement when
``perform_workflow`` ends, however it ends (a value, an error, a cancel), so each
attempt's calls are stored, a failed one's included. Each call is converted to JSON
(pydantic models through ``model_dump``, dataclasses, mappings, sequences; anything else
as its ``repr``), its secrets redacted (the values of keys such as ``Authorization`` and
``api_key``, bearer tokens and ``sk-`` keys in any text), and cut to ``CALL_LIMIT`` bytes:
a part over half of it is replaced by ``{"baton_truncated": true, "bytes": n, "preview":
"<its first JSON characters>"}``. An attempt keeps at most ``MAX_CALLS`` calls.

The text the step streams (``baton.stream``) is kept too while capture is on: after its
calls, the attempt stores one entry whose ``kind`` is ``"stream"``, with no request and the
whole streamed text in order as its response, ``{"baton_stream": text, "chunks": n,
"chars": n}``, its secrets redacted. Past ``CALL_LIMIT`` bytes the text's beginning is
kept, the entry is ``truncated`` and ``"omitted_chars"`` counts the characters cut from
its end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oban import Job, Oban
from psycopg import Error as DatabaseError

from . import _oban, store
from ._control import check_id
from ._redact import HIDDEN, is_secret_key, redact_secrets
from .errors import InvalidOption

logger = logging.getLogger("baton")

ENV = "BATON_CAPTURE_CALLS"
#: The most bytes of JSON one call (request and response together) is stored with.
CALL_LIMIT = 64 * 1024
#: The most calls one attempt stores; later ones are counted in a warning, not kept.
MAX_CALLS = 100
#: How deep a value is followed before it is shown as "<too deep>".
MAX_DEPTH = 32

_switch: bool | None = None


def capture_calls(enabled: bool | None) -> None:
    """Switch call capture on or off for every step this process runs.

    ``None`` goes back to the environment: on when ``BATON_CAPTURE_CALLS`` is ``1``,
    ``true``, ``yes`` or ``on``. A workflow's or worker's ``capture=True`` turns capture
    on for its steps whatever this says.
    """
    global _switch
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidOption(f"capture_calls takes True, False or None, got {enabled!r:.100}")
    _switch = enabled


def check_option(capture: object) -> bool:
    """A worker's ``capture=`` option, refused unless it is a bool."""
    if not isinstance(capture, bool):
        raise InvalidOption(f"capture must be True or False, got {capture!r:.100}")
    return capture


def process_capture() -> bool:
    """Whether capture is on for the whole process."""
    if _switch is not None:
        return _switch
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(slots=True)
class _Attempt:
    job: Job
    calls: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    streamed: list[str] = field(default_factory=list)
    streamed_bytes: int = 0
    chunks: int = 0
    omitted: int = 0


_current: ContextVar[_Attempt | None] = ContextVar("baton_capture", default=None)


def begin(job: Job, on: bool) -> Token[_Attempt | None] | None:
    """Start collecting ``job``'s calls for this attempt, if ``on``."""
    return _current.set(_Attempt(job)) if on else None


def capture(job: Job, *, request: Any = None, response: Any = None) -> bool:
    """Keep one LLM call of the running step, when capture is on for it.

    Args:
        job: the job ``perform_workflow`` was given.
        request: what was sent (the parameters, a dict or an SDK object).
        response: what came back (an SDK object, a dict).

    Returns:
        True when the call was kept; False when capture is off for this step (or the
        attempt already kept ``MAX_CALLS`` calls).

    Raises:
        InvalidOption: ``job`` is not a job, or neither ``request`` nor ``response`` is given.
    """
    if not isinstance(job, Job):
        raise InvalidOption(
            f"capture(job, ...) takes the job perform_workflow was given, got {type(job).__name__}"
        )
    attempt = _current.get()
    if attempt is None or attempt.job is not job:
        return False
    if request is None and response is None:
        raise InvalidOption("capture(job, ...) needs request=, response= or both")
    if len(attempt.calls) >= MAX_CALLS:
        attempt.dropped += 1
        return False
    attempt.calls.append(record(request, response, len(attempt.calls)))
    return True


def record(request: Any, response: Any, seq: int) -> dict[str, Any]:
    """One call as the store writes it: JSON text of each part, redacted and capped."""
    parts = [_dumps(jsonable(request)), _dumps(jsonable(response))]
    size = sum(len(part.encode()) for part in parts)
    truncated = size > CALL_LIMIT
    if truncated:
        parts = [_cut(part) for part in parts]
    return {
        "seq": seq,
        "captured_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        "request": parts[0],
        "response": parts[1],
        "bytes": size,
        "truncated": truncated,
    }


#: The key of a stream entry's response that holds the streamed text.
STREAM_KEY = "baton_stream"


def streamed(job: Job, text: str) -> None:
    """Keep ``text``, streamed by the running step, when capture is on for it.

    What is past the cap (with room for the characters a redaction may need) is only
    counted: a long stream does not grow the attempt's memory.
    """
    attempt = _current.get()
    if attempt is None or attempt.job is not job:
        return
    attempt.chunks += 1
    room = 2 * CALL_LIMIT - attempt.streamed_bytes
    if room <= 0:
        attempt.omitted += len(text)
        return
    encoded = text.encode()
    if len(encoded) > room:
        kept = encoded[:room].decode(errors="ignore")
        attempt.omitted += len(text) - len(kept)
        text = kept
    attempt.streamed.append(text)
    attempt.streamed_bytes += len(text.encode())


def stream_record(attempt: _Attempt, seq: int) -> dict[str, Any]:
    """The attempt's streamed text as one stored entry: redacted, cut to its beginning."""
    text = redact_secrets("".join(attempt.streamed))
    omitted = attempt.omitted
    total = len(text) + omitted
    response: dict[str, Any] = {STREAM_KEY: text, "chunks": attempt.chunks, "chars": total}
    size = len(_dumps(response).encode()) + omitted  # what the cap in memory cut: counted
    keep = len(text)
    while len(_dumps(response).encode()) > CALL_LIMIT:
        keep = keep * 3 // 4
        response[STREAM_KEY] = text[:keep]
        response["omitted_chars"] = omitted + len(text) - keep
    if omitted and "omitted_chars" not in response:
        response["omitted_chars"] = omitted
    return {
        "seq": seq,
        "captured_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        "request": _dumps(None),
        "response": _dumps(response),
        "bytes": size,
        "truncated": "omitted_chars" in response,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cut(part: str) -> str:
    """``part`` if it fits in half the cap, else the marker with as long a preview as fits.

    The preview is JSON-escaped once more inside the marker (a quote becomes ``\\"``), so
    it is shortened until the marker fits.
    """
    half = CALL_LIMIT // 2
    raw = part.encode()
    if len(raw) <= half:
        return part
    keep = half - 200
    while True:
        preview = raw[:keep].decode(errors="ignore")
        marker = _dumps({"baton_truncated": True, "bytes": len(raw), "preview": preview})
        if len(marker.encode()) <= half:
            return marker
        keep //= 2


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON values, with secrets redacted."""
    if depth > MAX_DEPTH:
        return "<too deep>"
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, Mapping):
        return {
            str(key): HIDDEN if is_secret_key(str(key)) else jsonable(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic models: the OpenAI and Anthropic SDKs' objects
        try:
            return jsonable(dump(mode="json"), depth + 1)
        except Exception:
            logger.debug("model_dump() of %s failed", type(value).__name__, exc_info=True)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(
            {item.name: getattr(value, item.name) for item in dataclasses.fields(value)},
            depth + 1,
        )
    return redact_secrets(repr(value)[:2000])


async def end(oban: Oban, job: Job, token: Token[_Attempt | None] | None) -> None:
    """Write the calls this attempt captured (one statement), and stop collecting.

    A failure to write is logged, never raised: the step's own outcome goes on.
    """
    if token is None:
        return
    attempt = _current.get()
    _current.reset(token)
    if attempt is None:
        return
    if attempt.dropped:
        logger.warning(
            "step %r of workflow %r captured %d calls past the %d an attempt keeps; "
            "those were not stored",
            job.meta.get("workflow_step"),
            job.meta.get("workflow_id"),
            attempt.dropped,
            MAX_CALLS,
        )
    entries = attempt.calls
    if attempt.streamed or attempt.omitted:
        entries = [*entries, stream_record(attempt, len(entries))]
    if not entries:
        return
    try:
        await store.insert_calls(oban, job, _dumps(entries))
    except DatabaseError as error:
        logger.warning(
            "step %r of workflow %r: its %d captured call(s) could not be stored: %s",
            job.meta.get("workflow_step"),
            job.meta.get("workflow_id"),
            len(entries),
            error,
        )


@dataclass(frozen=True, slots=True)
class CapturedCall:
    """One call a step attempt captured.

    ``request`` and ``response`` are the JSON stored (redacted; a part cut to the size cap
    is ``{"baton_truncated": true, "bytes": n, "preview": "..."}``). ``bytes`` is the
    call's size before any cut; ``truncated`` says whether a part was cut. ``kind`` is
    ``"call"`` for a ``baton.capture`` call and ``"stream"`` for the text the attempt
    streamed (``request`` is None, ``response`` is ``{"baton_stream": text, "chunks": n,
    "chars": n}``, with ``"omitted_chars"`` when its end was cut).
    """

    step: str
    attempt: int
    seq: int
    captured_at: datetime
    request: Any
    response: Any
    bytes: int
    truncated: bool
    kind: str = "call"


def _kind(request: Any, response: Any) -> str:
    if request is None and isinstance(response, dict) and STREAM_KEY in response:
        return "stream"
    return "call"


async def calls(
    workflow_id: str, *, step: str | None = None, oban: Oban | str | None = None
) -> list[CapturedCall]:
    """The calls a workflow's steps captured, by step, attempt and order of capture.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    workflow_id = check_id(workflow_id)
    if step is not None and not isinstance(step, str):
        raise InvalidOption(f"step must be a step name, got {step!r:.100}")
    if step is not None and "\x00" in step:
        step = ""  # no step name holds NUL (PostgreSQL text cannot): it matches none
    rows = await store.workflow_calls(_oban.instance(oban), workflow_id, step)
    return [
        CapturedCall(
            step=row.step,
            attempt=row.attempt,
            seq=row.seq,
            captured_at=row.captured_at.replace(tzinfo=UTC),
            request=row.request,
            response=row.response,
            bytes=row.bytes,
            truncated=row.truncated,
            kind=_kind(row.request, row.response),
        )
        for row in rows
    ]
