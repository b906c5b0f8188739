"""Token authentication, cross-site request checks and security headers.

Host names (a guard against DNS rebinding): an app answers only the ``Host`` names it
allows, by default the loopback names when it has no token. Authentication (only when the
app has a token): ``Authorization: Bearer <token>``, or a cookie set after a one-time
``?token=<token>`` on any page. Cross-site request forgery: every POST must come from the
app's own origin (``Origin``, else ``Referer``) at an allowed host and carry the per-app
CSRF token that each page embeds, in the ``X-Baton-CSRF`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "baton_session"
CSRF_HEADER = "x-baton-csrf"
DEFAULT_PORTS = {"http": 80, "https": 443}
# A Host header as browsers send it: a name or IPv4 address, or a bracketed IPv6 address,
# then an optional port.
_HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def derive(secret: str, purpose: str) -> str:
    """A value derived from ``secret`` for one purpose, safe to hand to a browser."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def new_csrf_token(secret: str | None) -> str:
    """The app's CSRF token: derived from ``secret`` (stable across processes) or random."""
    return derive(secret, "baton-web-csrf") if secret else secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str | None) -> str | None:
    """The host name of a ``Host`` header, lower case, without brackets, port or final dot."""
    found = _HOST_HEADER.fullmatch(header or "")
    if found is None:
        return None
    return found[1].strip("[]").lower().rstrip(".") or None


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which ``Host`` names an app answers: loopback names and ``names``, or any."""

    names: frozenset[str]
    any_host: bool

    @classmethod
    def of(cls, allowed: Iterable[str] | None, *, with_token: bool) -> HostPolicy:
        """The policy for ``allowed_hosts``: by default any host with a token, else loopback.

        Raises:
            ValueError: an entry is not a host name or address (nor ``"*"``).
        """
        if allowed is None:
            return cls(frozenset(), any_host=with_token)
        names: set[str] = set()
        for raw in [allowed] if isinstance(allowed, str) else allowed:
            name = raw.strip().strip("[]").lower().rstrip(".") if isinstance(raw, str) else ""
            if name == "*":
                return cls(frozenset(), any_host=True)
            if not (_HOST_NAME.fullmatch(name) or _is_address(name)):
                raise ValueError(
                    f"allowed host {raw!r:.80} is not a host name: give a name such as "
                    "'baton.example.org' or an address, without scheme, port or path "
                    "(or '*' for any host)"
                )
            names.add(name)
        return cls(frozenset(names), any_host=False)

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header is for this app."""
        if self.any_host:
            return True
        name = host_name(header)
        return name is not None and (is_loopback(name) or name in self.names)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def local_location(path: str) -> str:
    """``path`` as a redirect target on this site: ``//evil.example/`` becomes ``/evil.example/``.

    Browsers read a location that starts with two slashes, or a slash and a backslash, as
    another host; a backslash anywhere is percent-encoded.
    """
    return "/" + path.lstrip("/\\").replace("\\", "%5C")


def _endpoint(scheme: str, netloc: str, default_scheme: str) -> tuple[str, int] | None:
    parsed = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parsed.port
    except ValueError:
        return None
    if parsed.hostname is None:
        return None
    return parsed.hostname.lower(), port or DEFAULT_PORTS.get(default_scheme, 0)


def same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (else ``Referer``) names the host it was sent to.

    A ``Host`` without a port takes the default port of the origin's scheme, so the check
    holds behind a proxy that terminates TLS.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host")
    if not source or source == "null" or not host:
        return False
    origin = urlsplit(source)
    if origin.scheme not in DEFAULT_PORTS or not origin.netloc:
        return False
    theirs = _endpoint(origin.scheme, origin.netloc, origin.scheme)
    ours = _endpoint(origin.scheme, host, origin.scheme)
    return theirs is not None and theirs == ours


def csrf_ok(request: Request, token: str, hosts: HostPolicy) -> bool:
    """Same origin at an allowed host, and the right CSRF token in ``X-Baton-CSRF``.

    A page on another domain that rebinds its name to this machine is same-origin with
    itself, so the host must be one the app answers.
    """
    sent = request.headers.get(CSRF_HEADER, "")
    return (
        hosts.allows(request.headers.get("host"))
        and same_origin(request)
        and hmac.compare_digest(sent.encode(), token.encode())
    )


class SecurityMiddleware:
    """Adds security headers to every response, refuses other hosts and, with a token,
    requires it.

    Static files are served without the token: they are the package's own public assets.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        hosts: HostPolicy,
        static_path: str = "/static/",
    ) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts
        self.cookie_value = derive(token, "baton-web-session") if token else None
        self.static_path = static_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        host = Headers(scope=scope).get("host")
        if not self.hosts.allows(host):
            await self._misdirected(with_headers, host)
            return
        if self.token is None or self._route_path(scope).startswith(self.static_path):
            await self.app(scope, receive, with_headers)
            return
        request = Request(scope)
        offered = request.query_params.get("token")
        if offered is not None and request.method in ("GET", "HEAD"):
            if hmac.compare_digest(offered.encode(), self.token.encode()):
                await self._login(scope, with_headers)
            else:
                await self._refuse(scope, with_headers, "the token in the address is wrong")
            return
        if self._authorised(request):
            await self.app(scope, receive, with_headers)
        else:
            await self._refuse(scope, with_headers, "this Baton web view needs its token")

    @staticmethod
    def _route_path(scope: Scope) -> str:
        """The path below the app's mount point (as ``starlette._utils.get_route_path``)."""
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
            return path[len(root) :]
        return path

    def _authorised(self, request: Request) -> bool:
        assert self.token is not None and self.cookie_value is not None  # noqa: S101
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        ):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.cookie_value.encode())

    async def _login(self, scope: Scope, send: Send) -> None:
        """Set the session cookie and redirect to the same address without the token."""
        assert self.cookie_value is not None  # noqa: S101
        query = urlencode(
            [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode()) if k != "token"]
        )
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(scope.get("path", "/"), safe="/")
        location = local_location(path) + (f"?{query}" if query else "")
        cookie: SimpleCookie = SimpleCookie()
        cookie[COOKIE] = self.cookie_value
        morsel = cookie[COOKIE]
        morsel["path"] = scope.get("root_path") or "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        if scope.get("scheme") == "https":
            morsel["secure"] = True
        headers = [
            (b"location", location.encode("latin-1")),
            (b"set-cookie", morsel.OutputString().encode("latin-1")),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _misdirected(send: Send, host: str | None) -> None:
        body = (
            f"this Baton web view does not answer the host {host!r:.100} (a guard against "
            "DNS rebinding): open it as 127.0.0.1, localhost or [::1], or allow the name "
            "(create_app(allowed_hosts=...), baton web --allow-host)\n"
        ).encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _refuse(scope: Scope, send: Send, reason: str) -> None:
        accept = Headers(scope=scope).get("accept", "")
        if "text/html" in accept:
            body = (
                "<!doctype html><meta charset=utf-8><title>Baton: token needed</title>"
                f"<p>{reason}: open <code>…/?token=&lt;token&gt;</code> once, with the "
                "token the view was started with (<code>baton web</code> prints that "
                "address when it starts), or send <code>Authorization: Bearer "
                "&lt;token&gt;</code>.</p>"
            ).encode()
            kind = b"text/html; charset=utf-8"
        else:
            body = f'{{"error": "{reason}"}}'.encode()
            kind = b"application/json"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="baton"'),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
