"""Signing in and out, choosing a password, and the home page (which sends each role to
its first page). Sign-in is throttled (:mod:`revisit.access.throttle`): after five wrong
passwords for a name or from an address, the next tries are refused for a while."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from revisit.access.audit import audit
from revisit.access.throttle import LoginThrottle
from revisit.access.users import UserError, authenticate, change_password
from revisit.campaigns.statuses import AuditAction, Role
from revisit.db.tables import utcnow
from revisit.web.csrf import csrf_token
from revisit.web.deps import CurrentUser, EngineDep
from revisit.web.pages import page

router = APIRouter(tags=["auth"])


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this app, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return page(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    engine: EngineDep,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Sign in: 303 to ``next`` on success; the form again with one line otherwise (429
    while throttled, 401 for a wrong name or password)."""
    throttle: LoginThrottle = request.app.state.throttle
    keys = LoginThrottle.keys(name, request.client.host if request.client else None)
    now = utcnow()
    wait = throttle.retry_after(keys, now)
    context = {"next": safe_next(next), "name": name}
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        return page(request, "login.html", context | {"error": ("too_many", minutes)}, 429)
    with engine.begin() as conn:
        user = authenticate(conn, name=name, password=password)
        if user is not None:
            audit(conn, actor=user.name, action=AuditAction.SIGNED_IN, entity="user",
                  entity_id=user.name, now=now)  # fmt: skip
    if user is None:
        throttle.failed(keys, now)
        return page(request, "login.html", context | {"error": ("wrong_password", 0)}, 401)
    throttle.succeeded(keys)
    request.session.clear()
    request.session.update({"uid": user.id, "stamp": user.stamp})
    csrf_token(request)  # a new token for the new session
    target = "/password" if user.must_change_password else safe_next(next)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    """Sign out: the session is emptied."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/password")
def password_form(request: Request, user: CurrentUser) -> Response:
    """The form to choose a password (required after a one-time password)."""
    return page(request, "password.html")


@router.post("/password")
def set_password(
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    current: Annotated[str, Form(max_length=200)],
    new: Annotated[str, Form(max_length=200)],
) -> Response:
    """Change the password; the session carries on with the new one (others end)."""
    try:
        with engine.begin() as conn:
            changed = change_password(conn, user=user, current=current, new=new)
    except UserError as exc:
        return page(request, "password.html", {"problem": str(exc)}, status=400)
    request.session["stamp"] = changed.stamp
    return RedirectResponse("/", status_code=303)


@router.get("/")
def home(user: CurrentUser) -> Response:
    """Callers go to today's calls, leads and above to the campaigns."""
    target = "/campaigns" if user.at_least(Role.LEAD) else "/calls"
    return RedirectResponse(target, status_code=303)
