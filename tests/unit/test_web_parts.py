"""The web view's pure parts: graph layers, namespaces, origin checks, formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from baton.web import InvalidHost, WeakToken, create_app
from baton.web._data import layers, namespace_members
from baton.web._pages import duration, error_summary, state_class, step_name, step_row, usage_text
from baton.web._security import (
    CSRF_HEADER,
    HostPolicy,
    csrf_ok,
    host_name,
    is_loopback,
    local_location,
    same_origin,
)


def test_layers_are_the_longest_path_from_a_root() -> None:
    names = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]
    assert layers(names, edges) == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}


def test_layers_ignore_edges_to_unknown_steps() -> None:
    assert layers(["a", "b"], [("a", "b"), ("x", "b"), ("b", "y")]) == {"a": 0, "b": 1}


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=60))
def test_every_edge_goes_to_a_later_layer(pairs: list[tuple[int, int]]) -> None:
    edges = [(f"s{min(a, b)}", f"s{max(a, b)}") for a, b in pairs if a != b]  # acyclic
    names = [f"s{i}" for i in range(21)]
    depth = layers(names, edges)
    for up, down in edges:
        assert depth[down] > depth[up]
    for name in names:  # and each step sits right after its deepest dep
        ups = [depth[up] for up, down in edges if down == name]
        assert depth[name] == (max(ups) + 1 if ups else 0)


def request(headers: dict[str, str], scheme: str = "http") -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "scheme": scheme, "headers": raw, "method": "POST"})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"host": "example.org", "origin": "http://example.org"}, True),
        ({"host": "example.org", "origin": "https://example.org"}, True),  # TLS at a proxy
        ({"host": "example.org:443", "origin": "https://example.org"}, True),
        ({"host": "Example.ORG:8000", "origin": "http://example.org:8000"}, True),
        ({"host": "example.org", "referer": "http://example.org/baton/workflows/x"}, True),
        ({"host": "[::1]:8000", "origin": "http://[::1]:8000"}, True),
        ({"host": "example.org:8000", "origin": "http://example.org"}, False),
        ({"host": "example.org", "origin": "http://example.org:8000"}, False),
        ({"host": "example.org", "origin": "http://evil.example"}, False),
        ({"host": "example.org", "origin": "http://example.org.evil.example"}, False),
        ({"host": "example.org", "origin": "null"}, False),
        ({"host": "example.org", "origin": "file://example.org"}, False),
        ({"host": "example.org", "origin": "http://example.org:bad"}, False),
        ({"host": "example.org"}, False),
        ({"origin": "http://example.org"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], expected: bool) -> None:
    assert same_origin(request(headers)) is expected


def test_origin_wins_over_referer() -> None:
    headers = {
        "host": "example.org",
        "origin": "http://evil.example",
        "referer": "http://example.org/",
    }
    assert same_origin(request(headers)) is False


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_formatting() -> None:
    assert [duration(ms) for ms in (None, 523.4, 12_345, 125_000, 7_500_000)] == [
        "",
        "0.52 s",
        "12.3 s",
        "2 min 5 s",
        "2 h 5 min",
    ]
    assert state_class("completed") == "completed"
    assert state_class('x" onload="alert(1)') == "unknown"
    assert state_class(None) == "unknown"
    assert usage_text(None) == ""
    usage = {"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 80, "cost_usd": "0.004"}
    assert usage_text(usage) == "gpt-4o · 1,200 in / 80 out · $0.004"
    cached = {"input_tokens": 10, "output_tokens": 1, "cache_read_tokens": 5}
    assert usage_text(cached) == "10 in / 1 out (cache 5 read, 0 written)"


def test_error_summary_names_the_exception() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "    raise RuntimeError(message)\n"
        "RuntimeError: upstream <API> down\n"
        "second line of the message\n"
    )
    assert error_summary(traceback) == "RuntimeError: upstream <API> down"
    assert error_summary("dependencies did not complete") == "dependencies did not complete"
    assert error_summary("x" * 500) == "x" * 120
    assert error_summary("  \n") == ""


def test_namespace_members_holds_every_step_under_each_path() -> None:
    names = ["plan", "plan/summary[0]", "research/fetch", "research/deep/x", "compile"]
    assert namespace_members(names) == {
        "plan": ["plan/summary[0]"],
        "research": ["research/fetch", "research/deep/x"],
        "research/deep": ["research/deep/x"],
    }
    assert namespace_members(["a", "b"]) == {}


def test_step_name_mutes_the_namespace_and_escapes_both_parts() -> None:
    assert step_name("fetch") == '<span class="step-name">fetch</span>'
    assert step_name("research/deep/x") == (
        '<span class="step-name"><span class="ns">research/deep/</span>x</span>'
    )
    assert step_name("<a>/<b>") == (
        '<span class="step-name"><span class="ns">&lt;a&gt;/</span>&lt;b&gt;</span>'
    )


def test_step_row_shows_the_model() -> None:
    step = {
        "name": "draft[0]",
        "worker": "Draft",
        "group": "draft",
        "model": "gpt-4o <mini>",
        "queue": "llm<1>",
        "parent": None,
        "state": "completed",
        "attempt": 1,
        "max_attempts": 3,
        "wait_ms": 1.0,
        "run_ms": 2.0,
        "usage": None,
        "result_preview": None,
        "result_stored": False,
        "result_truncated": False,
        "error": None,
    }
    row = step_row(step)
    assert '<div class="sub model">model gpt-4o &lt;mini&gt;</div>' in row
    assert "model" not in step_row({**step, "model": None})
    assert '<div class="sub queue">queue llm&lt;1&gt;</div>' in row


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("localhost.:8000", "localhost"),
        ("[::1]:8000", "::1"),
        ("Baton.Example.org", "baton.example.org"),
        ("x@127.0.0.1", None),  # userinfo: no browser sends it
        ("127.0.0.1/evil", None),
        ("127.0.0.1:80:80", None),
        ("", None),
        (None, None),
    ],
)
def test_host_name(header: str | None, expected: str | None) -> None:
    assert host_name(header) == expected


def test_without_a_token_only_loopback_names_are_answered() -> None:
    loopback = HostPolicy.of(None, with_token=False)
    for header in ("127.0.0.1:8111", "localhost:8111", "[::1]:8111", "127.0.0.2", "localhost"):
        assert loopback.allows(header), header
    for header in ("rebind.evil.example:8111", "localhost.evil.example", "127.0.0.1.nip.io", None):
        assert not loopback.allows(header), header
    assert HostPolicy.of(None, with_token=True).allows("any.example.org")
    named = HostPolicy.of(["Baton.Example.org.", "[2001:db8::1]", "10.0.0.5"], with_token=True)
    for header in ("baton.example.org:443", "[2001:db8::1]:80", "10.0.0.5", "localhost:1"):
        assert named.allows(header), header
    assert not named.allows("evil.example")
    assert HostPolicy.of("*", with_token=False).allows("anything.example")


@pytest.mark.parametrize("bad", ["http://x", "x:80", "a/b", "", " ", "a b", "-x.example"])
def test_allowed_hosts_must_be_host_names(bad: str) -> None:
    with pytest.raises(InvalidHost, match="is not a host name"):
        create_app(allowed_hosts=[bad])


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_token_is_refused(blank: str) -> None:
    with pytest.raises(WeakToken, match="the token is blank"):
        create_app(token=blank)


def test_csrf_refuses_a_rebound_host_that_names_itself() -> None:
    token = "t" * 20
    rebound = {"host": "rebind.evil.example:8111", "origin": "http://rebind.evil.example:8111"}
    assert same_origin(request(rebound))  # same origin with itself, and so
    loopback = HostPolicy.of(None, with_token=False)
    assert not csrf_ok(request({**rebound, CSRF_HEADER: token}), token, loopback)
    local = {"host": "127.0.0.1:8111", "origin": "http://127.0.0.1:8111", CSRF_HEADER: token}
    assert csrf_ok(request(local), token, loopback)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/workflows/x", "/workflows/x"),
        ("//evil.example/", "/evil.example/"),
        ("///evil.example/", "/evil.example/"),
        ("/\\evil.example/", "/evil.example/"),
        ("/a\\b", "/a%5Cb"),
        ("http://evil.example/x", "/http://evil.example/x"),  # an absolute-form target
    ],
)
def test_login_redirects_stay_on_this_site(path: str, expected: str) -> None:
    assert local_location(path) == expected
