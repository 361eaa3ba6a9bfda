"""No stack trace or internal detail ever reaches a page: an HTTP error is a friendly page
in the user's language (JSON for the machine endpoints: Twilio's webhooks, ``*.json``),
an expected error of the product (:class:`~revisit.errors.RevisitError`: a broken campaign
file or template, a database not imported yet) is a page saying its one line, and an
unexpected error is logged with its traceback and answered with a generic 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from revisit.errors import NotFoundError, RevisitError
from revisit.web.i18n import translate
from revisit.web.pages import language_of, page

_log = logging.getLogger(__name__)

#: status → the words (revisit.web.i18n) of its page
MESSAGES = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "cannot_do",
            413: "too_large", 422: "bad_request", 429: "too_many", 500: "error"}  # fmt: skip


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.endswith(".json") or "application/json" in request.headers.get("accept", "")


def error_page(
    request: Request, status: int, key: str | None = None, detail: str | None = None
) -> Response:
    """The friendly page (or JSON) of ``status``; ``key`` picks other words than the
    status's own (``csrf``); ``detail`` is a line of the product's own to show under them
    (an expected error's message, never a traceback)."""
    words = key or MESSAGES.get(status, "error")
    if _wants_json(request):
        body = {"detail": words} | ({"problem": detail} if detail else {})
        return JSONResponse(body, status_code=status)
    context = {"status": status, "message_key": words, "detail": detail}
    return page(request, "error.html", context, status=status)


async def _expected(request: Request, exc: Exception) -> Response:
    """A :class:`RevisitError` no route turned into its own answer: 404 for a lookup that
    found nothing, else 409 (the request is fine, the data or configuration behind it is
    not) with the error's words in the user's language (its ``code``) or its one line."""
    assert isinstance(exc, RevisitError)
    status = 404 if isinstance(exc, NotFoundError) else 409
    _log.warning("%s %s: %s", request.method, request.url.path, exc)
    lang = language_of(request)
    if exc.code:
        detail = translate(exc.code, lang, **{k: str(v) for k, v in exc.values.items()})
    else:
        detail = str(exc)
    return error_page(request, status, "cannot_do", detail=None if status == 404 else detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/twilio/"):
        return await http_exception_handler(request, exc)  # Twilio reads the detail
    if exc.status_code >= 500 or exc.status_code == 403:
        _log.warning("%s %s: %s %s", request.method, request.url.path, exc.status_code, exc.detail)
    key = "csrf" if exc.detail == "csrf" else None
    response = error_page(request, exc.status_code, key)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _invalid(request: Request, exc: Exception) -> Response:
    _log.info("%s %s: invalid request: %s", request.method, request.url.path, exc)
    return error_page(request, 400)


async def _crash(request: Request, exc: Exception) -> Response:
    _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    try:
        return error_page(request, 500)
    except Exception:  # the page itself cannot render: plain text, still no detail
        return Response("Something went wrong; it is logged.", status_code=500)


def install_error_pages(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(RevisitError, _expected)
    app.add_exception_handler(Exception, _crash)
