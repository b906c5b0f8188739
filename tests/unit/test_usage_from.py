"""``baton.usage_from`` against real response objects of the ``openai`` and ``anthropic`` SDKs.

The objects are built locally with the SDKs' own pydantic models (no network), so a change
in an SDK's shape shows up here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

import baton
from baton import DEFAULT_PRICING, LLMUsage
from baton.errors import BatonError, InvalidOption, UnknownResponse


def chat_completion(usage: dict[str, Any], model: str = "gpt-4o-2024-08-06") -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "a summary"},
                }
            ],
            "usage": usage,
        }
    )


def response(usage: dict[str, Any]) -> Response:
    return Response.model_validate(
        {
            "id": "resp_1",
            "object": "response",
            "created_at": 1_700_000_000,
            "model": "gpt-4.1-2025-04-14",
            "output": [],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        }
    )


def message(usage: dict[str, Any], model: str = "claude-sonnet-4-5-20250929") -> Message:
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "a summary"}],
            "stop_reason": "end_turn",
            "usage": usage,
        }
    )


def test_openai_chat_completion_with_cached_prompt_tokens() -> None:
    resp = chat_completion(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 80,
            "total_tokens": 1280,
            "prompt_tokens_details": {"cached_tokens": 1024},
        }
    )
    assert baton.usage_from(resp) == {
        "model": "gpt-4o-2024-08-06",
        "input_tokens": 176,  # prompt_tokens count the cached ones: each is priced once
        "output_tokens": 80,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
    }


def test_openai_chat_completion_without_details() -> None:
    resp = chat_completion({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
    assert resp.usage is not None and resp.usage.prompt_tokens_details is None
    assert baton.usage_from(resp, latency_ms=412.5) == {
        "model": "gpt-4o-2024-08-06",
        "input_tokens": 12,
        "output_tokens": 3,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "latency_ms": 412.5,
    }


def test_openai_responses_api_with_cache_reads_and_writes() -> None:
    resp = response(
        {
            "input_tokens": 500,
            "output_tokens": 20,
            "total_tokens": 520,
            "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 300},
            "output_tokens_details": {"reasoning_tokens": 5},
        }
    )
    assert baton.usage_from(resp) == {
        "model": "gpt-4.1-2025-04-14",
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_tokens": 100,
        "cache_write_tokens": 300,
    }


def test_anthropic_message_with_cache_reads_and_writes() -> None:
    resp = message(
        {
            "input_tokens": 30,
            "output_tokens": 10,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 500,
        }
    )
    # Anthropic's input_tokens already exclude the cache: kept as they are
    usage = baton.usage_from(resp)
    assert usage == {
        "model": "claude-sonnet-4-5-20250929",
        "input_tokens": 30,
        "output_tokens": 10,
        "cache_read_tokens": 2000,
        "cache_write_tokens": 500,
    }
    # priced at the cache rates: 30 x 3 + 10 x 15 + 2000 x 0.30 + 500 x 3.75 per million
    expected = Decimal(30 * 3 + 10 * 15) + Decimal("600") + Decimal("1875")
    assert DEFAULT_PRICING.cost(LLMUsage.parse(usage)) == expected / 1_000_000


def test_anthropic_message_with_null_cache_fields() -> None:
    resp = message({"input_tokens": 7, "output_tokens": 2}, model="claude-3-5-haiku-latest")
    assert resp.usage.cache_read_input_tokens is None
    assert baton.usage_from(resp)["cache_read_tokens"] == 0
    assert baton.usage_from(resp)["input_tokens"] == 7


def test_openai_compatible_dict_as_litellm_returns_it() -> None:
    litellm = {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "model": "claude-3-7-sonnet-20250219",
        "choices": [],
        "usage": {
            "prompt_tokens": 2600,
            "completion_tokens": 40,
            "total_tokens": 2640,
            "prompt_tokens_details": {"cached_tokens": 2000},
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 500,
        },
    }
    assert baton.usage_from(litellm) == {
        "model": "claude-3-7-sonnet-20250219",
        "input_tokens": 100,
        "output_tokens": 40,
        "cache_read_tokens": 2000,
        "cache_write_tokens": 500,
    }


def test_the_result_is_what_llm_usage_parses_without_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resp = chat_completion(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
        }
    )
    parsed = LLMUsage.parse(baton.usage_from(resp, latency_ms=80))
    assert parsed == LLMUsage("gpt-4o-2024-08-06", 6, 5, 4, 0, 80)
    assert caplog.records == []


class NotAResponse:
    pass


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (NotAResponse(), "test_usage_from.NotAResponse"),
        (42, "a int"),
        ("text", "a str"),
        (None, "a NoneType"),
    ],
)
def test_unknown_objects_are_refused_naming_their_type(value: object, named: str) -> None:
    with pytest.raises(UnknownResponse, match="cannot read usage from") as caught:
        baton.usage_from(value)
    assert named in str(caught.value)
    assert isinstance(caught.value, BatonError) and isinstance(caught.value, TypeError)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"model": "m"}, "has no usage"),
        ({"usage": {"total_tokens": 3}}, "neither prompt_tokens nor input_tokens"),
        ({"usage": {"prompt_tokens": -1}}, "prompt_tokens should be a token count"),
        ({"usage": {"input_tokens": "12"}}, "input_tokens should be a token count"),
    ],
)
def test_dicts_without_a_usable_usage_are_refused(value: dict[str, Any], says: str) -> None:
    with pytest.raises(UnknownResponse, match=says):
        baton.usage_from(value)


@pytest.mark.parametrize("latency", [-1, "fast", True])
def test_a_bad_latency_is_refused(latency: Any) -> None:
    with pytest.raises(InvalidOption, match="latency_ms must be milliseconds"):
        baton.usage_from({"usage": {"input_tokens": 1}}, latency_ms=latency)
