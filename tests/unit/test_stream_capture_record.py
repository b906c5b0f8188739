"""The stored form of an attempt's streamed text: redacted whole, cut to its beginning."""

from __future__ import annotations

import json
from typing import Any

import pytest
from oban import Job

from baton import _capture
from baton._capture import CALL_LIMIT, stream_record, streamed


def attempt_with(chunks: list[str]) -> Any:
    job = Job(worker="tests.Streams", args={})
    token = _capture.begin(job, True)
    try:
        for chunk in chunks:
            streamed(job, chunk)
        attempt = _capture._current.get()
    finally:
        assert token is not None
        _capture._current.reset(token)
    return attempt


def test_a_key_split_across_chunks_is_redacted() -> None:
    record = stream_record(attempt_with(["token: sk-live-", "abcdef123456 done"]), 3)
    response = json.loads(record["response"])
    assert response == {"baton_stream": "token: *** done", "chunks": 2, "chars": 15}
    assert (record["seq"], record["request"], record["truncated"]) == (3, "null", False)


@pytest.mark.parametrize("char", ["x", "é", "\x01"])  # one, two and six bytes of JSON each
def test_a_long_stream_keeps_its_beginning_within_the_cap(char: str) -> None:
    chunks = [char * 1000] * 300
    record = stream_record(attempt_with(chunks), 0)
    response = json.loads(record["response"])
    assert len(record["response"].encode()) <= CALL_LIMIT
    assert record["truncated"] is True
    kept = response["baton_stream"]
    assert kept and set(kept) == {char}
    assert response["chars"] == 300_000
    assert response["omitted_chars"] == 300_000 - len(kept)
    assert response["chunks"] == 300


def test_capture_off_keeps_nothing() -> None:
    job = Job(worker="tests.Streams", args={})
    assert _capture.begin(job, False) is None
    streamed(job, "text")
    assert _capture._current.get() is None
