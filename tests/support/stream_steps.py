"""Workers that stream partial output with ``baton.stream``, for the streaming tests."""

from __future__ import annotations

import asyncio
from typing import Any

import oban

import baton
from baton.errors import InvalidOption, NotAWorkflowStep

#: Jobs of steps that kept a reference to their job after returning.
KEPT: list[Any] = []
#: What a plain Oban job got from baton.stream.
PLAIN_ERRORS: list[str] = []


@baton.worker(queue="default", max_attempts=1)
class Streams:
    """Streams each of its ``chunks``, or one ``size``-long run of ``char``."""

    async def perform_workflow(self, job: Any) -> Any:
        chunks = job.args.get("chunks") or [job.args["char"] * job.args["size"]]
        for chunk in chunks:
            await baton.stream(job, chunk)
        return {"streamed": sum(len(chunk) for chunk in chunks)}


@baton.worker(queue="default", max_attempts=1)
class KeepsItsJob:
    """Streams once and keeps its job, to stream again after it finished."""

    async def perform_workflow(self, job: Any) -> Any:
        await baton.stream(job, "while running")
        KEPT.append(job)


@baton.worker(queue="default", max_attempts=1)
class StreamsNotText:
    async def perform_workflow(self, job: Any) -> Any:
        try:
            await baton.stream(job, 42)
        except InvalidOption as error:
            return str(error)
        raise AssertionError("baton.stream took a number")


@oban.worker(queue="default", max_attempts=1)
class PlainStreams:
    """A plain Oban job (not a workflow step) that tries to stream."""

    async def process(self, job: Any) -> None:
        try:
            await baton.stream(job, "hello")
        except NotAWorkflowStep as error:
            PLAIN_ERRORS.append(str(error))


#: Per workflow id: set to let ``GatedStreams`` start streaming (the viewer is ready).
GATES: dict[str, asyncio.Event] = {}


@baton.worker(queue="default", max_attempts=1)
class GatedStreams:
    """Waits for its workflow's gate, then streams its ``chunks``."""

    async def perform_workflow(self, job: Any) -> Any:
        await GATES[job.meta["workflow_id"]].wait()
        for chunk in job.args["chunks"]:
            await baton.stream(job, chunk)
        return "done"


def chat_completion(text: str) -> Any:
    """A real ``openai`` chat completion, as the SDK parses it from the wire."""
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        }
    )


def anthropic_message(text: str) -> Any:
    """A real ``anthropic`` message, as the SDK parses it from the wire."""
    from anthropic.types import Message

    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-latest",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 20,
                "output_tokens": 4,
                "cache_read_input_tokens": 8,
                "cache_creation_input_tokens": 0,
            },
        }
    )


@baton.worker(queue="default", max_attempts=1, capture=True)
class CapturesSdkAndStreams:
    """Captures a real OpenAI and a real Anthropic response, then streams ``chunks``."""

    async def perform_workflow(self, job: Any) -> Any:
        secret = {"api_key": "sk-live-openai-123", "x-api-key": "sk-ant-api03-secret"}
        prompt = [{"role": "user", "content": "hi"}]
        baton.capture(
            job,
            request={"model": "gpt-4o-mini", "messages": prompt, "api_key": secret["api_key"]},
            response=chat_completion("Hello from OpenAI"),
        )
        baton.capture(
            job,
            request={
                "model": "claude-3-5-haiku-latest",
                "messages": prompt,
                "extra_headers": {"x-api-key": secret["x-api-key"]},
            },
            response=anthropic_message("Hello from Anthropic"),
        )
        for chunk in job.args.get("chunks", []):
            await baton.stream(job, chunk)
        return {"done": True}
