"""No stack trace or internal detail ever reaches a page: an HTTP error is a friendly page
in the user's language (JSON for the machine endpoints: Twilio's webhooks, ``*.json``),
an unexpected error is logged with its traceback and answered with a generic 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from revisit.web.pages import page

_log = logging.getLogger(__name__)

#: status → the words (revisit.web.i18n) of its page
MESSAGES = {400: "bad_request", 403: "forbidden", 404: "not_found", 413: "too_large",
            422: "bad_request", 429: "too_many", 500: "error"}  # fmt: skip


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.endswith(".json") or "application/json" in request.headers.get("accept", "")


def error_page(request: Request, status: int, key: str | None = None) -> Response:
    """The friendly page (or JSON) of ``status``; ``key`` picks other words than the
    status's own (``csrf``)."""
    words = key or MESSAGES.get(status, "error")
    if _wants_json(request):
        return JSONResponse({"detail": words}, status_code=status)
    return page(request, "error.html", {"status": status, "message_key": words}, status=status)


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
    app.add_exception_handler(Exception, _crash)
