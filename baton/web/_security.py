"""Token authentication, cross-site request checks and security headers.

Authentication (only when the app has a token): ``Authorization: Bearer <token>``, or a
cookie set after a one-time ``?token=<token>`` on any page. Cross-site request forgery:
every POST must come from the app's own origin (``Origin``, else ``Referer``) and carry the
per-app CSRF token that each page embeds, in the ``X-Baton-CSRF`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "baton_session"
CSRF_HEADER = "x-baton-csrf"
DEFAULT_PORTS = {"http": 80, "https": 443}

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


def csrf_ok(request: Request, token: str) -> bool:
    """Same origin and the right CSRF token in the ``X-Baton-CSRF`` header."""
    sent = request.headers.get(CSRF_HEADER, "")
    return same_origin(request) and hmac.compare_digest(sent.encode(), token.encode())


class SecurityMiddleware:
    """Adds security headers to every response and, with a token, requires it.

    Static files are served without the token: they are the package's own public assets.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, static_path: str = "/static/") -> None:
        self.app = app
        self.token = token
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
        location = path + (f"?{query}" if query else "")
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
    async def _refuse(scope: Scope, send: Send, reason: str) -> None:
        accept = Headers(scope=scope).get("accept", "")
        if "text/html" in accept:
            body = (
                "<!doctype html><meta charset=utf-8><title>Baton: token needed</title>"
                f"<p>{reason}: open the address that <code>baton web</code> printed, "
                "which ends in <code>?token=…</code>.</p>"
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
