"""``baton.usage_from``: the ``llm_usage`` of a provider SDK's response.

Reads OpenAI chat completions and Responses API objects, Anthropic messages, and
OpenAI-compatible dicts (LiteLLM, vLLM, OpenRouter), without importing any SDK: a pydantic
response is read through its ``model_dump()``. Tokens are normalised to Baton's fields,
where ``input_tokens`` are the input tokens *not* read from or written to a cache (OpenAI
counts cache reads and writes inside ``prompt_tokens``/``input_tokens``, in their
``*_tokens_details``; Anthropic counts them apart), so each token is priced once, at its
own rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidOption, UnknownResponse

EXPECTED = (
    "an OpenAI ChatCompletion or Response, an Anthropic Message, or an OpenAI-compatible "
    "dict with a 'usage' entry"
)


def _as_dict(response: Any) -> Mapping[str, Any]:
    if isinstance(response, Mapping):
        return response
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        data = dump()
        if isinstance(data, Mapping):
            return data
    raise UnknownResponse(
        f"baton.usage_from cannot read usage from a {_type_name(response)}: expected {EXPECTED}"
    )


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _count(usage: Mapping[str, Any], *path: str) -> int:
    """The count at ``path`` in ``usage``; 0 when absent or null (SDKs leave fields None)."""
    value: Any = usage
    for key in path:
        if not isinstance(value, Mapping):
            return 0
        value = value.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnknownResponse(
            f"baton.usage_from: usage {'.'.join(path)} should be a token count, got {value!r}"
        )
    return value


def usage_from(response: Any, *, latency_ms: float | None = None) -> dict[str, Any]:
    """The ``llm_usage`` a step returns for one response of an LLM SDK.

    Args:
        response: an ``openai`` ``ChatCompletion`` or ``Response``, an ``anthropic``
            ``Message``, or the same as a dict (what LiteLLM and other OpenAI-compatible
            servers return).
        latency_ms: how long the call took, if measured; the usage reports' latency
            percentiles are over the calls that give it.

    Returns:
        ``{"model", "input_tokens", "output_tokens", "cache_read_tokens",
        "cache_write_tokens"}`` (and ``latency_ms`` when given): put it under
        ``llm_usage`` in the step's result.

    Raises:
        UnknownResponse: the object is none of those, or has no usage; names its type.

    Example:
        >>> resp = await client.chat.completions.create(model="gpt-4o", messages=...)
        >>> return {"summary": resp.choices[0].message.content,
        ...         "llm_usage": baton.usage_from(resp)}
    """
    if latency_ms is not None and (
        isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float) or latency_ms < 0
    ):
        raise InvalidOption(f"latency_ms must be milliseconds >= 0, got {latency_ms!r}")
    data = _as_dict(response)
    usage = data.get("usage")
    if not isinstance(usage, Mapping):
        raise UnknownResponse(
            f"baton.usage_from: the {_type_name(response)} has no usage "
            f"(usage={usage!r}); expected {EXPECTED}"
        )
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        # chat completions (OpenAI, LiteLLM): prompt_tokens include cache reads and writes
        read = _count(usage, "prompt_tokens_details", "cached_tokens") or _count(
            usage, "cache_read_input_tokens"
        )
        write = _count(usage, "prompt_tokens_details", "cache_write_tokens") or _count(
            usage, "cache_creation_input_tokens"
        )
        prompt = _count(usage, "prompt_tokens")
        tokens = (max(prompt - read - write, 0), _count(usage, "completion_tokens"), read, write)
    elif "input_tokens" in usage and (
        data.get("object") == "response" or "input_tokens_details" in usage
    ):
        # OpenAI's Responses API: input_tokens include cache reads and writes
        read = _count(usage, "input_tokens_details", "cached_tokens")
        write = _count(usage, "input_tokens_details", "cache_write_tokens")
        uncached = max(_count(usage, "input_tokens") - read - write, 0)
        tokens = (uncached, _count(usage, "output_tokens"), read, write)
    elif "input_tokens" in usage:
        # Anthropic's Messages API: input_tokens exclude cache reads and writes
        tokens = (
            _count(usage, "input_tokens"),
            _count(usage, "output_tokens"),
            _count(usage, "cache_read_input_tokens"),
            _count(usage, "cache_creation_input_tokens"),
        )
    else:
        raise UnknownResponse(
            f"baton.usage_from: the usage of the {_type_name(response)} has neither "
            f"prompt_tokens nor input_tokens (keys: {', '.join(map(str, usage)) or 'none'})"
        )
    model = data.get("model")
    record: dict[str, Any] = {
        "model": model if isinstance(model, str) and model else None,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
    }
    if latency_ms is not None:
        record["latency_ms"] = latency_ms
    return record
