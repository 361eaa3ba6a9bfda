"""The Twilio SMS channel: the twilio SDK's client and error types, driven through an
httpx-based asynchronous HTTP client with connection pooling and explicit timeouts.

``REVISIT_TWILIO_BASE_URL`` (``Settings.twilio_base_url``) replaces ``https://api.twilio.com``
in every request URL, so the same code talks to the fake provider in tests or to a proxy.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from revisit.delivery.channels.base import (
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    classify_error,
    matching,
)
from revisit.dms.phones import mask_phone
from revisit.errors import ConfigError, ProviderError
from revisit.settings import Settings

TWILIO_API = "https://api.twilio.com"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
LIST_PAGE_SIZE = 100  # messages per page when reconciling (Twilio allows up to 1000)
MAX_LIST_PAGES = 50  # pages read per phone before giving up (the contact stays unknown)


def timeouts(read: float = 15.0) -> httpx.Timeout:
    """Explicit timeouts: connect and pool waits are safe to retry, a read timeout is not."""
    return httpx.Timeout(connect=5.0, read=read, write=10.0, pool=30.0)


DEFAULT_TIMEOUT = timeouts()
# The SDK falls back to os.environ when handed an empty mapping; settings are ours.
_NO_ENVIRONMENT = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}

_log = logging.getLogger(__name__)


class RequestNotSent(TwilioException):
    """The request never reached the provider (connection refused, pool exhausted)."""


class NoAnswer(TwilioException):
    """The request was sent but no answer came back: the provider may have acted on it."""


@dataclass
class _Call:
    """Per-send state shared between the channel and the HTTP client."""

    idempotency_key: str | None = None
    retry_after: float | None = None


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("twilio_call", default=None)


class HttpxTwilioClient(AsyncHttpClient):
    """The SDK's ``AsyncHttpClient`` on one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        base_url: str = TWILIO_API,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 50,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(logger=_log, is_async=True, timeout=None)
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )

    def rewrite(self, url: str) -> str:
        if self.base_url != TWILIO_API and url.startswith(TWILIO_API):
            return self.base_url + url[len(TWILIO_API) :]
        return url

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        call = _CALL.get()
        headers = dict(headers or {})
        if call and call.idempotency_key and method.upper() == "POST":
            headers[IDEMPOTENCY_HEADER] = call.idempotency_key
        url = self.rewrite(uri)
        _log.debug("%s %s", method.upper(), urlsplit(url).path)  # no query: it holds phones
        try:
            resp = await self._http.request(
                method.upper(),
                url,
                params=params,  # type: ignore[arg-type]
                data=data,  # type: ignore[arg-type]
                headers=headers,
                auth=auth,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RequestNotSent(f"{type(exc).__name__} on {method.upper()}") from exc
        except httpx.TransportError as exc:
            raise NoAnswer(f"{type(exc).__name__} on {method.upper()}") from exc
        if call is not None and resp.status_code == 429:
            call.retry_after = _retry_after(resp.headers.get("Retry-After"))
        return Response(resp.status_code, resp.text, resp.headers)

    async def close(self) -> None:
        await self._http.aclose()


class TwilioChannel:
    name = "twilio"

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 50,
    ) -> None:
        if not settings.has_twilio:
            raise ConfigError(
                "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID."
            )
        self.http = HttpxTwilioClient(
            base_url=settings.twilio_base_url, timeout=timeout, max_connections=max_connections
        )
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None,
            http_client=self.http,
            environment=_NO_ENVIRONMENT,
        )
        self._sender: dict[str, Any] = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.twilio_from}
        )
        if settings.status_callback_url:  # delivery statuses come back to `revisit serve`
            self._sender["status_callback"] = settings.status_callback_url

    async def send(self, sms: OutgoingSms) -> SendResult:
        call = _Call(idempotency_key=sms.idempotency_key)
        token = _CALL.set(call)
        try:
            msg = await self._client.messages.create_async(to=sms.to, body=sms.body, **self._sender)
        except TwilioRestException as exc:
            return classify_error(
                http_status=exc.status,
                code=_code(exc.code),
                message=_safe_message(exc.msg, sms.to),
                retry_after=call.retry_after,
            )
        except TwilioServiceException as exc:
            return classify_error(
                http_status=exc.status,
                code=_code(exc.code),
                message=_safe_message(exc.detail or exc.title, sms.to),
                retry_after=call.retry_after,
            )
        except RequestNotSent as exc:
            return SendResult(Outcome.RETRY_LATER, error=str(exc))
        except NoAnswer as exc:
            return SendResult(Outcome.UNKNOWN, error=str(exc))
        finally:
            _CALL.reset(token)
        return SendResult(
            Outcome.SENT,
            sid=msg.sid,
            segments=_segments(msg.num_segments),
            provider_status=str(msg.status) if msg.status is not None else None,
        )

    async def find_sent(self, *, to: str, since: dt.datetime, body: str) -> list[ProviderMessage]:
        """Every message to ``to`` with ``body`` created at or after ``since``, in any state.

        The list is filtered by ``To`` alone: Twilio's ``DateSent`` filters leave out a
        message it has accepted but not yet sent (``queued``, ``accepted``, ``scheduled``,
        ``sending``: no DateSent, and a rate-limited sender's backlog can last hours).
        Pages come newest first; paging stops at the first page that reaches a message
        created before ``since``. Raises :class:`ProviderError` when a page cannot be read,
        or when ``MAX_LIST_PAGES`` pages do not reach back to ``since`` (the contact then
        stays unknown rather than be sent again)."""
        floor = since.astimezone(dt.UTC).replace(microsecond=0)
        found: list[ProviderMessage] = []
        try:
            page = await self._client.messages.page_async(to=to, page_size=LIST_PAGE_SIZE)
            for _ in range(MAX_LIST_PAGES):
                older = False
                for m in page:
                    found.append(_provider_message(m))
                    older = older or (m.date_created is not None and m.date_created < floor)
                if older or page.next_page_url is None:
                    return matching(found, to=to, since=since, body=body)
                page = await page.next_page_async()
        except TwilioRestException as exc:
            raise ProviderError(
                f"Twilio could not list messages to {mask_phone(to)}: HTTP {exc.status} "
                f"code {exc.code}. Contacts stay unknown; re-run to reconcile them."
            ) from exc
        except (RequestNotSent, NoAnswer) as exc:
            raise ProviderError(
                f"Twilio could not be reached to list messages to {mask_phone(to)} ({exc})."
            ) from exc
        except TwilioException as exc:  # a page that could not be fetched
            status = next((a.status_code for a in exc.args if isinstance(a, Response)), "?")
            raise ProviderError(
                f"Twilio could not list messages to {mask_phone(to)}: HTTP {status}. "
                "Contacts stay unknown; re-run to reconcile them."
            ) from exc
        raise ProviderError(
            f"Twilio lists more than {MAX_LIST_PAGES * LIST_PAGE_SIZE} messages to "
            f"{mask_phone(to)} since {floor:%Y-%m-%d %H:%M} UTC; the contact stays unknown "
            "(never resent). Check that number's messages in the Twilio console."
        )

    async def fetch_status(self, sid: str) -> ProviderMessage | None:
        """The message ``sid`` as Twilio has it now (None: Twilio does not know it)."""
        try:
            m = await self._client.messages(sid).fetch_async()
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise ProviderError(
                f"Twilio could not fetch message {sid}: HTTP {exc.status} code {exc.code}"
            ) from exc
        except (RequestNotSent, NoAnswer) as exc:
            raise ProviderError(f"Twilio could not be reached to fetch {sid} ({exc})") from exc
        return ProviderMessage(
            sid=str(m.sid),
            to=str(m.to),
            body=m.body or "",
            status=str(m.status),
            created_at=m.date_created,
            sent_at=m.date_sent,
            segments=_segments(m.num_segments),
            error_code=str(m.error_code) if m.error_code is not None else None,
        )

    async def aclose(self) -> None:
        await self.http.close()


def _provider_message(m: Any) -> ProviderMessage:
    return ProviderMessage(
        sid=str(m.sid),
        to=str(m.to),
        body=m.body or "",
        status=str(m.status),
        created_at=m.date_created,
        sent_at=m.date_sent,
        segments=_segments(m.num_segments),
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _code(code: Any) -> int | None:
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _segments(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def _safe_message(text: Any, phone: str) -> str:
    """The provider's error text with the recipient's number masked."""
    return str(text or "").replace(phone, mask_phone(phone))[:500]
