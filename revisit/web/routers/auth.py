"""Signing in and out, choosing a password, and the home page (which sends each role to
its first page). Sign-in is throttled (:mod:`revisit.access.throttle`): after five wrong
passwords for a name, that name's next tries are refused for a while (an address is refused
only after many more, across names), the page saying until when. A form that fails (a
wrong password, a refused try, a password that cannot be used) is posted, then redirected
back to its own page (303), which shows the problem once with what was typed (never a
password): a reload does not post it again."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from revisit.access.audit import audit
from revisit.access.throttle import LoginThrottle
from revisit.access.users import UserError, authenticate, change_password
from revisit.campaigns.statuses import AuditAction, Role
from revisit.web.csrf import csrf_token
from revisit.web.deps import CurrentUser, EngineDep, SettingsDep
from revisit.web.i18n import zone_name
from revisit.web.pages import language_of, local_time, page

router = APIRouter(tags=["auth"])
#: The session key a failed form leaves for its page: {"form", "status", "values"}.
FAILED = "failed_form"
#: The problem of a password form whose new password was typed differently twice.
PASSWORDS_DIFFER = "new password: the two entries differ"


def back_to_form(request: Request, url: str, form: str, status: int, **values: Any) -> Response:
    """Leave what a failed ``form`` shows (its status and ``values``: the problem and the
    fields typed, small and never a password) in the session and redirect to its page."""
    request.session[FAILED] = {"form": form, "status": status, "values": values}
    return RedirectResponse(url, status_code=303)


def failed_form(request: Request, form: str) -> tuple[int, dict[str, Any]]:
    """(status, values) a failed ``form`` left for its page, once; (200, {}) when none."""
    left = request.session.pop(FAILED, None)
    if isinstance(left, dict) and left.get("form") == form:
        return int(left.get("status", 400)), dict(left.get("values") or {})
    return 200, {}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this app, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form; after a failed try, its problem and the name typed (401 for a
    wrong name or password, 429 while refused)."""
    status, values = failed_form(request, "login")
    return page(request, "login.html", {"next": safe_next(next)} | values, status=status)


@router.post("/login")
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Sign in: 303 to ``next`` on success; otherwise 303 back to the sign-in form, which
    says why once (a wrong name or password; too many tries, and after what time — in the
    default time zone — to try again)."""
    throttle: LoginThrottle = request.app.state.throttle
    keys = LoginThrottle.keys(name, request.client.host if request.client else None)
    now = throttle.clock()
    wait = throttle.retry_after(keys, now)
    again = f"/login?next={quote(safe_next(next), safe='')}"
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        zone = settings.default_timezone
        at = f"{local_time(now + wait, zone)[11:]} ({zone_name(zone, language_of(request))})"
        return back_to_form(request, again, "login", 429, name=name,
                            error=["too_many", minutes, at])  # fmt: skip
    with engine.begin() as conn:
        user = authenticate(conn, name=name, password=password)
        if user is not None:
            audit(conn, actor=user.name, action=AuditAction.SIGNED_IN, entity="user",
                  entity_id=user.name)  # fmt: skip
    if user is None:
        throttle.failed(keys, now)
        return back_to_form(request, again, "login", 401, name=name,
                            error=["wrong_password", 0, ""])  # fmt: skip
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
    """The form to choose a password (required after a one-time password); after a failed
    try, its problem (400)."""
    status, values = failed_form(request, "password")
    return page(request, "password.html", values, status=status)


@router.post("/password")
def set_password(
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    current: Annotated[str, Form(max_length=200)],
    new: Annotated[str, Form(max_length=200)],
    repeat: Annotated[str, Form(max_length=200)],
) -> Response:
    """Change the password; the session carries on with the new one (others end). One
    that cannot be used, or typed differently the second time (``repeat``): 303 back to
    the form, which says why."""
    if new != repeat:
        return back_to_form(request, "/password", "password", 400, problem=PASSWORDS_DIFFER)
    try:
        with engine.begin() as conn:
            changed = change_password(conn, user=user, current=current, new=new)
    except UserError as exc:
        return back_to_form(request, "/password", "password", 400, problem=str(exc))
    request.session["stamp"] = changed.stamp
    return RedirectResponse("/", status_code=303)


@router.get("/")
def home(user: CurrentUser) -> Response:
    """Callers go to today's calls, leads and above to the campaigns."""
    target = "/campaigns" if user.at_least(Role.LEAD) else "/calls"
    return RedirectResponse(target, status_code=303)
