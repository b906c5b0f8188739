"""What a captured call is stored as: JSON, secrets redacted, cut to the size cap."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import pydantic
import pytest

from baton._capture import CALL_LIMIT, MAX_DEPTH, jsonable, record
from baton._redact import is_secret_key, redact_secrets


class Message(pydantic.BaseModel):
    role: str
    content: str


class Completion(pydantic.BaseModel):
    id: str
    choices: list[Message]
    api_key: str


@dataclass
class Params:
    model: str
    headers: dict[str, str]
    temperature: float


def test_pydantic_models_and_dataclasses_become_json() -> None:
    response = Completion(id="c1", choices=[Message(role="assistant", content="hi")], api_key="k")
    assert jsonable(response) == {
        "id": "c1",
        "choices": [{"role": "assistant", "content": "hi"}],
        "api_key": "***",
    }
    params = Params("gpt-4o", {"x-api-key": "secret", "Accept": "json"}, 0.2)
    assert jsonable(params) == {
        "model": "gpt-4o",
        "headers": {"x-api-key": "***", "Accept": "json"},
        "temperature": 0.2,
    }


def test_other_values() -> None:
    assert jsonable((1, 2.5, None, True)) == [1, 2.5, None, True]
    assert jsonable(float("nan")) == "nan"
    assert jsonable(b"\x00\x01") == "<2 bytes>"
    assert jsonable(Decimal("1.5")) == "Decimal('1.5')"
    assert jsonable({1: "a"}) == {"1": "a"}
    nested: list[object] = []
    for _ in range(MAX_DEPTH + 5):
        nested = [nested]
    assert "<too deep>" in json.dumps(jsonable(nested))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abc.DEF-123", "Bearer ***"),
        ("key=sk-ant-api03-abcdefgh", "key=***"),
        ("postgresql://app:hunter2@db/x", "postgresql://app:***@db/x"),
        ("host=db password=hunter2", "host=db password=***"),
        ("max_tokens and sk-short stay", "max_tokens and sk-short stay"),
    ],
)
def test_secrets_in_text(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_secret_keys_are_matched_by_name_not_by_substring() -> None:
    assert is_secret_key("Authorization")
    assert is_secret_key("X-Api-Key")
    assert is_secret_key("api_key")
    assert not is_secret_key("max_tokens")
    assert not is_secret_key("input_tokens")


def test_a_call_over_the_cap_is_cut_with_a_preview() -> None:
    big = {"content": "y" * CALL_LIMIT}
    call = record(big, {"ok": True}, 3)
    assert call["seq"] == 3
    assert call["truncated"] is True
    assert call["bytes"] > CALL_LIMIT
    cut = json.loads(call["request"])
    assert cut["baton_truncated"] is True
    assert cut["preview"].startswith('{"content":"yyy')
    assert json.loads(call["response"]) == {"ok": True}
    assert len(call["request"].encode()) + len(call["response"].encode()) <= CALL_LIMIT


def test_a_call_within_the_cap_is_kept_whole() -> None:
    call = record({"a": 1}, None, 0)
    assert (call["truncated"], json.loads(call["request"]), call["response"]) == (
        False,
        {"a": 1},
        "null",
    )


def test_capture_keeps_calls_only_for_the_attempt_collecting_them() -> None:
    from oban import Job

    from baton import _capture
    from baton.errors import InvalidOption

    job, other = Job(worker="w", args={}), Job(worker="w", args={})
    assert _capture.capture(job, request={"a": 1}) is False  # capture off: nothing collects
    token = _capture.begin(job, True)
    try:
        assert _capture.capture(job, request={"a": 1}) is True
        assert _capture.capture(other, request={"a": 1}) is False  # not this attempt's job
        with pytest.raises(InvalidOption, match="needs request=, response= or both"):
            _capture.capture(job)
        for _ in range(_capture.MAX_CALLS):
            _capture.capture(job, response="r")
        attempt = _capture._current.get()
        assert attempt is not None
        assert (len(attempt.calls), attempt.dropped) == (_capture.MAX_CALLS, 1)
    finally:
        assert token is not None
        _capture._current.reset(token)
    assert _capture.begin(job, False) is None


def test_a_preview_full_of_escapes_still_fits_the_cap() -> None:
    call = record({"content": '"\\\x01' * CALL_LIMIT}, {"content": "\x02" * CALL_LIMIT}, 0)
    assert call["truncated"] is True
    assert len(call["request"].encode()) + len(call["response"].encode()) <= CALL_LIMIT
    assert json.loads(call["request"])["preview"].startswith('{"content":"\\"')
