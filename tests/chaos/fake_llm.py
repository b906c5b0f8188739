"""A fake LLM: a real HTTP server on 127.0.0.1 that records every call it receives.

Steps call ``POST /v1/complete`` with a JSON body naming the workflow, step, attempt and
their pid. The server records the call the moment the request has arrived (so a call
whose caller is SIGKILLed while waiting still counts), waits a small random latency, then
answers with a text, a call id and token usage — or, now and then, ``503`` so the step
fails and is retried. Standard library only: one request per connection, HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("tests.chaos.fake_llm")

PATH = "/v1/complete"
MODEL = "fake-llm-1"
MAX_BODY = 1_000_000
READ_TIMEOUT = 10.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}


def utc_now() -> datetime:
    """Now, as the naive UTC timestamp Baton's tables hold."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class Call:
    """One request to the fake LLM.

    ``status`` is the HTTP status sent, or 0 while unanswered (and for good when the
    caller went away first, e.g. because its process was killed).
    """

    id: int
    workflow_id: str
    step: str
    attempt: int
    job_id: int
    pid: int
    started_at: datetime
    status: int = 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "started_at": self.started_at.isoformat()}


class FakeLLM:
    """The server; ``calls`` is its log, in arrival order.

    Args:
        seed: seeds the latencies, errors and token counts.
        latency: (min, max) seconds before an answer.
        error_rate: the share of calls answered ``503``.
    """

    def __init__(
        self, *, seed: int = 0, latency: tuple[float, float] = (0.02, 0.25), error_rate: float = 0.0
    ) -> None:
        self.calls: list[Call] = []
        self._rng = random.Random(seed)  # noqa: S311 - simulated behaviour, not a secret
        self._latency = latency
        self._error_rate = error_rate
        self._inflight: dict[int, int] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def busy_pids(self) -> set[int]:
        """Processes waiting for an answer right now."""
        return set(self._inflight.values())

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def __aenter__(self) -> FakeLLM:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                method, path, body = await asyncio.wait_for(read_request(reader), READ_TIMEOUT)
            except (ValueError, TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return
            if method != "POST" or path != PATH:
                await respond(writer, 404, {"error": f"no route {method} {path}"})
                return
            try:
                call = self._record(json.loads(body))
            except (ValueError, KeyError, TypeError) as error:
                await respond(writer, 400, {"error": f"bad request: {error}"})
                return
            self._inflight[call.id] = call.pid
            try:
                await asyncio.sleep(self._rng.uniform(*self._latency))
                status, answer = self._answer(call)
                await respond(writer, status, answer)
                call.status = status
            except ConnectionError:
                pass  # the caller is gone: the call stays recorded, unanswered
            finally:
                del self._inflight[call.id]
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)

    def _record(self, request: dict[str, Any]) -> Call:
        call = Call(
            id=len(self.calls) + 1,
            workflow_id=str(request["workflow_id"]),
            step=str(request["step"]),
            attempt=int(request["attempt"]),
            job_id=int(request["job_id"]),
            pid=int(request["pid"]),
            started_at=utc_now(),
        )
        self.calls.append(call)
        return call

    def _answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        if self._rng.random() < self._error_rate:
            return 503, {"error": "overloaded, retry later", "call": call.id}
        return 200, {
            "call": call.id,
            "model": MODEL,
            "text": f"{call.step}#{call.id}",
            "usage": {
                "input_tokens": self._rng.randint(50, 2_000),
                "output_tokens": self._rng.randint(10, 500),
            },
        }


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    """The method, path and body of one HTTP/1.1 request."""
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) != 3:
        raise ValueError(f"malformed request line {request_line!r}")
    method, path, _version = request_line
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if not 0 <= length <= MAX_BODY:
        raise ValueError(f"content-length {length} out of range")
    return method, path, await reader.readexactly(length)


async def respond(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)
    await writer.drain()


class LLMUnavailable(Exception):
    """The fake LLM answered with an error status."""


async def complete(url: str, request: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """POST ``request`` to the fake LLM at ``url`` and return its JSON answer.

    Raises:
        LLMUnavailable: the server answered with a status other than 200.
    """
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    body = json.dumps(request).encode()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                f"POST /{path} HTTP/1.1\r\nHost: {hostport}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
                + body
            )
            await writer.drain()
            status_line = (await reader.readline()).decode("latin-1").split(maxsplit=2)
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            raw = await (reader.readexactly(length) if length is not None else reader.read())
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    status = int(status_line[1]) if len(status_line) >= 2 else 0
    if status != 200:
        raise LLMUnavailable(f"fake LLM answered {status}: {raw[:200]!r}")
    return json.loads(raw)  # type: ignore[no-any-return]
