"""The web view's approve form endpoint: protected like cancel and retry, 4xx for bad input."""

from __future__ import annotations

from typing import Any

from oban import Oban

import baton
from baton.web import create_app
from baton.web._security import CSRF_HEADER
from tests.integration.test_signals import approval, drain
from tests.integration.test_web import ORIGIN, SECRET, csrf_of, http


async def test_the_signal_endpoint_refuses_cross_site_and_unauthenticated_requests(
    client: Oban,
) -> None:
    wf = await approval().insert()
    await drain(client)
    url = f"/api/workflows/{wf.id}/signal?step=approve"
    async with http(create_app(oban=client)) as web:
        csrf = csrf_of((await web.get(f"/workflows/{wf.id}")).text)
        refused: list[dict[str, str]] = [
            {},
            {CSRF_HEADER: csrf},
            {"origin": ORIGIN},
            {"origin": ORIGIN, CSRF_HEADER: "forged"},
            {"origin": "http://evil.example", CSRF_HEADER: csrf},
            {"origin": "null", CSRF_HEADER: csrf},
        ]
        for headers in refused:
            response = await web.post(url, headers=headers, content=b'{"ok": true}')
            assert response.status_code == 403, headers
            assert "cross-site request refused" in response.json()["error"]
        assert (await web.get(url)).status_code == 405
    async with http(create_app(oban=client, token=SECRET)) as stranger:
        response = await stranger.post(
            url, headers={"origin": ORIGIN, CSRF_HEADER: csrf}, content=b"{}"
        )
        assert response.status_code == 401
    assert (await baton.status(wf.id)).step("approve").signalled_at is None  # nothing stored


async def test_the_signal_endpoint_signals_and_answers_bad_input_with_4xx(
    client: Oban,
) -> None:
    wf = await approval().insert()
    await drain(client)
    async with http(create_app(oban=client)) as web:
        csrf = csrf_of((await web.get(f"/workflows/{wf.id}")).text)
        headers = {"origin": ORIGIN, CSRF_HEADER: csrf}
        base = f"/api/workflows/{wf.id}/signal"

        async def post(query: str, body: bytes, workflow: str = base) -> Any:
            return await web.post(f"{workflow}{query}", headers=headers, content=body)

        bad = [
            ("?step=approve", b"{ok: true}", 400, "the payload is not JSON: Expecting property"),
            ("?step=approve", b"\xff\xfe", 400, "not UTF-8"),
            ("?step=approve", b'"' + b"x" * 1_200_000 + b'"', 413, "over 1,100,000 bytes"),
            ("?step=approve", b'"a\\u0000b"', 400, "NUL character"),
            ("", b"{}", 400, "name the step to signal"),
            ("?step=missing", b"{}", 404, "has no step 'missing'"),
            ("?step=draft", b"{}", 409, "is not a signal step"),
        ]
        for query, body, status, message in bad:
            response = await post(query, body)
            assert response.status_code == status, (query, response.text)
            assert message in response.json()["error"], (query, response.text)
        unknown = await post("?step=approve", b"{}", "/api/workflows/nope/signal")
        assert unknown.status_code == 404
        assert (await baton.status(wf.id)).step("approve").signalled_at is None

        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
        approve = next(step for step in detail["steps"] if step["name"] == "approve")
        assert (approve["state"], approve["signal"], approve["signalled_at"]) == (
            "awaiting_signal",
            True,
            None,
        )
        ok = await post("?step=approve", b'{"ok": true, "by": "web"}')
        assert ok.status_code == 200
        assert ok.json() == {"workflow_id": wf.id, "signalled": "approve"}
        again = await post("?step=approve", b"{}")
        assert again.status_code == 409
        assert "already signalled at" in again.json()["error"]
        await drain(client)
        assert (await baton.results(wf.id))["approve"] == {"ok": True, "by": "web"}
        finished = await post("?step=approve", b"{}")
        assert finished.status_code == 409
        assert "the workflow is completed" in finished.json()["error"]
        empty = await approval().insert()
        await drain(client)
        none = await post("?step=approve", b"", f"/api/workflows/{empty.id}/signal")
        assert none.status_code == 200  # an empty body: a signal without a payload
