"""``encode_result``: how a step's returned value is stored."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from baton._json import encode_result
from baton._worker import DEFAULT_RESULT_LIMIT
from baton.errors import ResultError, UnstorableResult

LIMIT = DEFAULT_RESULT_LIMIT


class Report:
    """Not JSON."""


@pytest.mark.parametrize(
    "value",
    [
        0,
        -7,
        2**62,
        3.25,
        True,
        False,
        "",
        "text",
        "résumé 步骤 🎉",
        None,
        [],
        {},
        [1, "two", None, 3.5, True],
        [None, None],
        {"a": {"b": {"c": [1, {"d": None}]}}, "e": []},
        [[[]], [{}], [[1, [2, [3]]]]],
    ],
)
def test_json_values_round_trip_wrapped(value: Any) -> None:
    encoded = encode_result(value, LIMIT)
    assert json.loads(encoded) == {"value": value}


def test_tuples_come_back_as_lists_and_int_keys_as_strings() -> None:
    encoded = encode_result({"pair": (1, 2), 3: "three"}, LIMIT)
    assert json.loads(encoded) == {"value": {"pair": [1, 2], "3": "three"}}


def test_non_ascii_is_stored_as_text_not_escapes() -> None:
    encoded = encode_result("步骤", LIMIT)
    assert "步骤" in encoded
    assert "\\u" not in encoded


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (frozenset(), "frozenset"),
        (Report(), "Report"),
        (b"bytes", "bytes"),
        (Decimal("1.5"), "Decimal"),
        (object(), "object"),
    ],
)
def test_a_value_that_is_not_json_names_its_type(value: Any, type_name: str) -> None:
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result(value, LIMIT)
    message = str(excinfo.value)
    assert f"result of type {type_name} is not JSON-serialisable" in message
    assert "return dicts, lists, strings, numbers, booleans or None" in message
    assert isinstance(excinfo.value, ResultError)
    assert isinstance(excinfo.value.__cause__, TypeError)


def test_a_set_nested_in_a_dict_is_named_in_the_message() -> None:
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result({"when": {1, 2}}, LIMIT)
    message = str(excinfo.value)
    assert "result of type dict" in message
    assert "set" in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), [1.0, float("nan")]])
def test_nan_and_infinity_are_rejected(value: Any) -> None:
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result(value, LIMIT)
    assert "is not JSON-serialisable" in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, ValueError)


def test_a_circular_value_is_rejected() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result(looped, LIMIT)
    assert "result of type list is not JSON-serialisable" in str(excinfo.value)


def test_a_value_at_the_limit_is_stored() -> None:
    value = "x" * 100
    size = len(json.dumps({"value": value}).encode())
    assert json.loads(encode_result(value, size)) == {"value": value}


def test_a_value_over_the_limit_names_its_size_and_the_limit() -> None:
    value = "x" * 2_000
    size = len(json.dumps({"value": value}).encode())
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result(value, 1_500)
    message = str(excinfo.value)
    assert f"result is {size:,} bytes of JSON" in message
    assert "over the limit of 1,500" in message
    assert "result_limit=" in message


def test_one_byte_over_the_limit_is_rejected() -> None:
    value = "x" * 100
    size = len(json.dumps({"value": value}).encode())
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result(value, size - 1)
    assert f"result is {size:,} bytes" in str(excinfo.value)


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    value = "步" * 10  # 3 bytes each in UTF-8
    size = len(json.dumps({"value": value}, ensure_ascii=False).encode())
    assert size > len(json.dumps({"value": value}, ensure_ascii=False))
    encode_result(value, size)
    with pytest.raises(UnstorableResult):
        encode_result(value, size - 1)


def test_the_default_limit_rejects_two_megabytes() -> None:
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result("x" * 2_000_000, LIMIT)
    assert "over the limit of 1,000,000" in str(excinfo.value)


@pytest.mark.parametrize(
    "value", ["a\x00b", ["ok", "\x00"], {"key": {"deep": "\x00"}}, {"k\x00": 1}]
)
def test_a_nul_character_is_rejected(value: Any) -> None:
    with pytest.raises(UnstorableResult) as excinfo:
        encode_result(value, LIMIT)
    assert "NUL character" in str(excinfo.value)


def test_a_literal_backslash_u0000_is_not_a_nul_character() -> None:
    value = "C:\\u0000\\file"  # a backslash, then the letters u0000: no NUL character
    assert "\x00" not in value
    assert json.loads(encode_result(value, LIMIT)) == {"value": value}
