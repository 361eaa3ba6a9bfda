"""Rendering the app's pages: the Jinja environment of ``revisit/web/templates`` (escaped
HTML; filters ``masked``, ``readable`` for phones and ``local`` for times in a store's zone),
and :func:`page`, which gives every template the user, their language, the word
lookup ``t`` and the session's CSRF token."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from revisit.access.users import SignedIn
from revisit.campaigns.labels import label
from revisit.campaigns.statuses import Role
from revisit.delivery.channels.providers import console_sms_dir
from revisit.dms.phones import format_for_reading, mask_phone
from revisit.entry.lookup import campaign_titles
from revisit.web.csrf import FIELD, csrf_token
from revisit.web.i18n import pick_language, problem_text, translate, zone_name

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.filters["masked"] = mask_phone
TEMPLATES.env.filters["readable"] = format_for_reading


def local_time(value: dt.datetime | None, zone: str) -> str:
    """``YYYY-MM-DD HH:MM`` of an instant in the IANA time zone ``zone`` (a store's; the
    page says which zone once); a naive value is UTC, as the database keeps it."""
    if value is None:
        return ""
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return f"{aware.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


TEMPLATES.env.filters["local"] = local_time
TEMPLATES.env.globals["Role"] = Role


def user_of(request: Request) -> SignedIn | None:
    """The signed-in user of a request, or None on a public path."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, SignedIn) else None


def language_of(request: Request) -> str:
    """``zh`` or ``en`` for this request (see :func:`revisit.web.i18n.pick_language`)."""
    user = user_of(request)
    return pick_language(user.language if user else None, request.headers.get("accept-language"))


def campaign_names(request: Request, lang: str) -> dict[str, str]:
    """campaign file name → the name people read in ``lang``
    (:func:`revisit.entry.lookup.campaign_titles` of the app's settings)."""
    settings = getattr(request.app.state, "settings", None)
    return {} if settings is None else campaign_titles(settings, lang)


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """``template`` rendered for this request, with ``user``, ``lang``, ``t`` (words in
    the page's language), ``label`` (a code's label: ``label(value, kind)``, see
    :func:`revisit.campaigns.labels.label`), ``campaign_name`` (a campaign's display name),
    ``problem_text`` (an expected error in the page's language), ``zone_name`` (a time
    zone as staff read it), ``sms_console`` (the folder SMS are written to when no SMS
    provider is set up, else None: :func:`revisit.delivery.channels.console_sms_dir`;
    ``_sms_console.html`` says it on every page that speaks of sending), ``csrf_field``,
    ``csrf_token`` and ``flash`` (the one-line message a redirect left in the session:
    [words key, text]) besides ``context``."""
    lang = language_of(request)
    has_session = "session" in request.scope
    flash = request.session.pop("flash", None) if has_session else None
    names: dict[str, str] = {}
    settings = getattr(request.app.state, "settings", None)
    console = console_sms_dir(settings) if settings is not None else None

    def campaign_name(name: str) -> str:
        if not names:
            names.update(campaign_names(request, lang) or {"": ""})
        return names.get(name, name)

    base = {
        "user": user_of(request), "lang": lang, "t": partial(translate, lang=lang),
        "label": lambda value, kind=None: label(value, lang, kind),
        "campaign_name": campaign_name,
        "problem_text": lambda problem: problem_text(problem, lang),
        "zone_name": lambda zone: zone_name(zone, lang),
        "sms_console": str(console) if console is not None else None,
        "csrf_field": FIELD,
        "csrf_token": csrf_token(request) if has_session else "",
        "flash": flash if isinstance(flash, list) and len(flash) == 2 else None,
    }  # fmt: skip
    return TEMPLATES.TemplateResponse(request, template, base | (context or {}), status_code=status)
