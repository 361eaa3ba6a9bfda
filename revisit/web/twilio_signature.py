"""Twilio's request signature (``X-Twilio-Signature``), checked with the SDK's
``RequestValidator`` against the public URL Twilio was given — ``REVISIT_PUBLIC_URL`` + the
path (+ the query string) — never the Host header, which a proxy rewrites.

Twilio signs the full URL it called and the POSTed form parameters with the account's auth
token (https://www.twilio.com/docs/usage/security#validating-requests).
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request
from twilio.request_validator import RequestValidator

from revisit.web.deps import SettingsDep

_log = logging.getLogger(__name__)


def public_url_of(public_url: str, request: Request) -> str:
    """The URL Twilio called: the configured public URL, this request's path and query."""
    query = request.url.query
    return f"{public_url}{request.url.path}" + (f"?{query}" if query else "")


async def signed_twilio_form(request: Request, settings: SettingsDep) -> dict[str, str]:
    """The POSTed form of a request Twilio signed. Raises HTTP 403 when the signature is
    missing or wrong, or when this deployment cannot check one (no ``REVISIT_PUBLIC_URL``
    or ``TWILIO_AUTH_TOKEN``): nothing unsigned ever reaches the database."""
    body = (await request.body()).decode("utf-8", errors="replace")
    params = dict(parse_qsl(body, keep_blank_values=True))
    signature = request.headers.get("x-twilio-signature")
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not settings.public_url or not token:
        _log.warning(
            "%s refused: set REVISIT_PUBLIC_URL and TWILIO_AUTH_TOKEN to accept Twilio's webhooks",
            request.url.path,
        )
        raise HTTPException(403, "webhooks are not configured on this deployment")
    url = public_url_of(settings.public_url, request)
    if not signature or not RequestValidator(token).validate(url, params, signature):
        _log.warning("%s refused: missing or invalid X-Twilio-Signature", request.url.path)
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    return params


TwilioForm = Annotated[dict[str, str], Depends(signed_twilio_form)]
