"""What the CLI prints never drives the terminal: names, ids, models and errors are free text
(LLM output, say), so their control and bidi characters are shown as escapes and nothing
in them is read as rich markup. Checked through the real CLI, piped and on a pty."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from oban import Oban

from baton import Workflow
from tests.support.event_steps import Quick, drain
from tests.support.hostile_steps import Hostile

ROOT = Path(__file__).resolve().parents[2]
#: rich markup that, read as markup, would show "click" linked to evil.example.
MARKUP_ID = "[link=https://evil.example]click[/link]"
#: An OSC 8 hyperlink around a name: a terminal shows only "looks fine".
OSC_NAME = "\x1b]8;;https://evil.example\x07looks fine\x1b]8;;\x07"
MODEL = "gpt\x1b[31m-4o"


def environment(installed: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBAN_DSN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["DATABASE_URL"] = installed
    env["COLUMNS"] = "400"
    return env


def piped(installed: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        env=environment(installed),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.decode()


def on_a_terminal(installed: str, *args: str) -> str:
    """What the command writes to a pseudo-terminal (so rich styles its output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "baton", *args],
        stdout=follower,
        stderr=follower,
        env={**environment(installed), "TERM": "xterm-256color"},
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty is closed once the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) in (0, 1)
    return b"".join(chunks).decode()


async def hostile(client: Oban) -> Workflow:
    wf = (
        Workflow(name=OSC_NAME, id=MARKUP_ID)
        .add("fetch", Quick.new({"value": 1}), model=MODEL)
        .add("boom", Hostile.new(), deps=["fetch"])
    )
    await wf.insert(oban=client)
    await drain(client, "default")
    await drain(client, "default")
    return wf


def assert_inert(text: str) -> None:
    """No sequence from the data reached the output raw, and each is shown escaped."""
    assert "\x1b]" not in text  # no OSC: no hyperlink, no window title
    assert "\x1b[2J" not in text  # no clear screen
    assert MODEL not in text  # the model's colour code is not sent (rich's own styles are)
    assert "\u202e" not in text
    assert "\\x1b]8;;https://evil.example\\x07looks fine" in text
    assert "\\x1b[2J\\x1b]0;pwned\\x07 upstream said \\u202eno" in text


async def test_status_on_a_terminal_shows_escapes_and_the_real_id(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await hostile(client)

    shown = on_a_terminal(installed, "status", MARKUP_ID)

    assert_inert(shown)
    assert MARKUP_ID in shown  # the id itself, not a link labelled "click"
    assert "gpt\\x1b[31m-4o" in shown


async def test_list_status_and_watch_piped_print_no_control_sequence(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    await hostile(client)

    listed = piped(installed, "list")
    status = piped(installed, "status", MARKUP_ID)
    watched = piped(installed, "watch", MARKUP_ID)

    assert "\x1b" not in listed + status + watched  # piped: no styling either
    assert MARKUP_ID in listed and "\\x1b]8;;https://evil.example\\x07looks fine" in listed
    assert_inert(status)
    assert_inert(watched)
