"""The app's outer layers, as ASGI middleware (outermost first): security headers on every
response, the request body size limit, the signed session cookie (Starlette's
``SessionMiddleware``), and :class:`AccessGate`, which refuses every request without a
signed-in user except the public paths — so a router added later is protected without
doing anything."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from revisit.access.users import SignedIn, session_user

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(__name__)

#: Answer without a session: Twilio's signed webhooks, the health check, sign-in, assets.
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/twilio/", "/static/")
#: Where a user with a one-time password may go before choosing their own.
PASSWORD_PATHS = frozenset({"/password", "/logout"})
MAX_BODY = 256 * 1024  # bytes: forms and webhooks are a few kB

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def is_public(path: str) -> bool:
    """Whether ``path`` answers without a session."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def _respond(send: Send, status: int, body: bytes, kind: bytes, extra: list[Any]) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _text(send: Send, status: int, text: str) -> None:
    await _respond(send, status, text.encode(), b"text/plain; charset=utf-8", [])


class SecurityHeaders:
    """Adds CSP (``script-src 'self'``, ``frame-ancestors 'none'``), nosniff, DENY framing,
    ``Referrer-Policy: same-origin`` and ``no-store`` to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 to a request body over ``max_body`` bytes, by its Content-Length or as
    it streams in."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _text(send, 413, "Request body too large.")
            return
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _TooLarge:
            if not started:
                await _text(send, 413, "Request body too large.")


class AccessGate:
    """Deny by default: a request to any path but :data:`PUBLIC_PATHS` /
    :data:`PUBLIC_PREFIXES` needs a session naming an active user whose password has not
    changed since (``request.state.user`` is then that :class:`SignedIn`). Without one, a
    page (GET) is sent to ``/login``, anything else gets 401. A user with a one-time
    password reaches only ``/password`` and ``/logout``. When sign-in is not configured
    (no secret key) every non-public path answers 503 with one line saying so."""

    def __init__(self, app: ASGIApp, *, engine: Engine, configured: bool) -> None:
        self.app, self.engine, self.configured = app, engine, configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        if not self.configured:
            await _text(send, 503, "Sign-in is not configured: set REVISIT_SECRET_KEY.")
            return
        session = scope.get("session")
        assert session is not None, "SessionMiddleware must wrap the AccessGate"
        user = await run_in_threadpool(self._user, session)
        if user is None:
            # Forget who signed in, not the CSRF token: a browser's own request (its
            # /favicon.ico after the sign-in page loads) must not void the form it shows.
            session.pop("uid", None)
            session.pop("stamp", None)
            await self._refuse(scope, send)
            return
        if user.must_change_password and scope["path"] not in PASSWORD_PATHS:
            await self._redirect(send, "/password")
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    def _user(self, session: MutableMapping[str, Any]) -> SignedIn | None:
        uid, stamp = session.get("uid"), session.get("stamp")
        if not isinstance(uid, int) or not isinstance(stamp, int):
            return None
        with self.engine.connect() as conn:
            return session_user(conn, user_id=uid, stamp=stamp)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            await self._redirect(send, f"/login?next={quote(target, safe='')}")
            return
        body = json.dumps({"detail": "sign in first"}).encode()
        await _respond(send, 401, body, b"application/json", [])

    @staticmethod
    async def _redirect(send: Send, location: str) -> None:
        await _respond(send, 303, b"", b"text/plain", [(b"location", location.encode())])
