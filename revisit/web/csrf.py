"""CSRF protection: a random token kept in the signed session, put in every form (a hidden
``csrf_token`` field) and sent by our scripts as ``X-CSRF-Token``. Every request that can
change something (not GET, HEAD or OPTIONS) must carry it, except Twilio's webhooks (which
are signature-checked instead); :func:`check_csrf` is an app-wide dependency, so a route
added later is covered without doing anything."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    """This session's token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """Raises HTTP 403 (``csrf``) when a state-changing request lacks this session's token."""
    if request.method in SAFE_METHODS or request.url.path.startswith("/twilio/"):
        return
    expected = request.session.get("csrf") if "session" in request.scope else None
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(403, "csrf")
