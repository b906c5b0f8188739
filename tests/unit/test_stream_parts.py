"""Streamed output without a database: coalescing, the event payload, the terminal views."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from oban import Job
from rich.console import Console

from baton._events import StepOutput, parse
from baton._stream import MAX_TEXT_BYTES, _Output
from baton.cli._output import OutputTail, output_line

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def output(step: str, text: str, seq: int = 1, skipped: int = 0) -> StepOutput:
    return StepOutput("wf-1", step, 7, 1, seq, text, skipped, NOW)


def channel() -> _Output:
    return _Output(None, Job(worker="w", args={}), "wf-1", "talk")  # type: ignore[arg-type]


def test_pending_text_is_coalesced_and_taken_once() -> None:
    out = channel()
    for chunk in ("a", "b", "c"):
        out.add(chunk)
    assert out.take() == ("abc", 0)
    assert out.take() is None


def test_pending_text_keeps_its_newest_part_and_counts_what_it_dropped() -> None:
    out = channel()
    out.add("o" * 5_000)
    out.add("n" * 5_000)
    out.add("e" * 1_000)
    text, skipped = out.take()  # type: ignore[misc]
    assert len(text.encode()) <= MAX_TEXT_BYTES
    assert text.endswith("n" * 5_000 + "e" * 1_000)
    assert skipped + len(text) == 11_000


def test_a_single_huge_chunk_is_cut_to_its_tail_on_a_character_boundary() -> None:
    out = channel()
    out.add("€" * 10_000)  # 3 bytes each
    text, skipped = out.take()  # type: ignore[misc]
    assert set(text) == {"€"} and len(text.encode()) <= MAX_TEXT_BYTES
    assert skipped + len(text) == 10_000


def test_an_output_payload_parses_into_a_step_output() -> None:
    payload = {
        "type": "output",
        "workflow_id": "wf-1",
        "step": "talk",
        "job_id": 7,
        "attempt": 2,
        "seq": 3,
        "text": "hi",
        "skipped": 4,
        "at": "2026-12-04T12:00:00+00:00",
    }
    event = parse(json.dumps(payload))
    assert event == StepOutput("wf-1", "talk", 7, 2, 3, "hi", 4, NOW)
    assert event.topics == ("workflow:wf-1", "workflow:all")


def test_a_piped_watch_line_is_one_line_and_says_what_it_left_out() -> None:
    assert output_line(output("talk", "one\ntwo")) == "talk  output  one\\x0atwo"
    line = output_line(output("talk", "x" * 500, skipped=10))
    assert line == "talk  output  …" + "x" * 300 + "  (210 characters not shown)"
    assert "\x1b" not in output_line(output("talk", "\x1b[31mred"))


def test_the_live_view_shows_the_latest_lines_of_the_last_steps() -> None:
    tail = OutputTail()
    assert tail.render() == []
    tail.add(output("draft", "line 1\nline 2\nline 3\nline 4"))
    tail.add(output("review", "looks \x1b[2J good"))
    tail.add(output("draft", " and more", seq=2))
    console = Console(width=100, record=True, force_terminal=False)
    for renderable in tail.render():
        console.print(renderable)
    text = console.export_text()
    assert "live output" in text
    assert "line 4 and more" in text and "line 2" in text and "line 1" not in text
    assert "looks \\x1b[2J good" in text
    assert text.index("review") < text.index("draft")  # the most recent step last
