"""``baton signal ID STEP [--json PAYLOAD]``: a subprocess of the real command."""

from __future__ import annotations

import asyncio

from oban import Oban

import baton
from tests.integration.test_cli_commands import background, cli, read_until
from tests.integration.test_signals import approval, drain


async def test_baton_signal_stores_the_payload_and_the_step_completes(
    installed: str, client: Oban
) -> None:
    wf = await approval().insert()
    await drain(client)
    code, out, err = await cli(
        "signal", wf.id, "approve", "--json", '{"ok": true, "by": "ana"}', "--dsn", installed
    )
    assert code == 0, err
    assert out == f"Signalled step 'approve' of workflow {wf.id!r}.\n"
    await drain(client)
    assert (await baton.results(wf.id))["approve"] == {"ok": True, "by": "ana"}

    code, out, err = await cli("signal", wf.id, "approve", "--dsn", installed)
    assert code == 1
    assert "the workflow is completed; it takes no more signals" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_baton_signal_refuses_bad_json_and_a_second_signal(
    installed: str, client: Oban
) -> None:
    wf = await approval().insert()
    code, _out, err = await cli(
        "signal", wf.id, "approve", "--json", "{ok: true}", "--dsn", installed
    )
    assert code == 2  # a usage error, like any bad option value
    assert "Invalid value for '--json': not JSON (Expecting property name" in err
    assert "Traceback" not in err
    assert (await baton.status(wf.id)).step("approve").signalled_at is None

    assert (await cli("signal", wf.id, "approve", "--dsn", installed))[0] == 0
    code, _out, err = await cli("signal", wf.id, "approve", "--json", "1", "--dsn", installed)
    assert code == 1
    assert "step 'approve' of workflow" in err and "was already signalled at" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1

    for args, expected in (
        (("nope", "approve"), "Error: no workflow with id 'nope'"),
        ((wf.id, "missing"), f"Error: workflow {wf.id!r} has no step 'missing'"),
        ((wf.id, "draft"), "is not a signal step"),
    ):
        code, _out, err = await cli("signal", *args, "--dsn", installed)
        assert code == 1, (args, err)
        assert expected in err, (args, err)
        assert "Traceback" not in err


async def test_status_and_watch_show_a_step_waiting_for_its_signal(
    installed: str, client: Oban
) -> None:
    wf = await approval().insert()
    await drain(client)
    code, out, err = await cli("status", wf.id, "--dsn", installed)
    assert code == 0, err
    assert "awaiting_signal" in out
    assert f"step approve waits for a signal: baton signal {wf.id} approve --json PAYLOAD" in out

    async with background("watch", wf.id, "--dsn", installed) as watcher:
        await read_until(watcher.stdout, "watching")
        await baton.signal(wf.id, "approve", {"ok": True})
        await drain(client)
        async with asyncio.timeout(30):
            out_bytes, err_bytes = await watcher.communicate()
    assert watcher.returncode == 0, err_bytes
    text = out_bytes.decode()
    assert "  approve  signalled  attempt 0" in text
    assert "  approve  completed  attempt 0" in text
    assert "workflow completed in " in text
