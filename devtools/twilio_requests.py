"""The fake Twilio's side of delivery statuses and replies: signed status callbacks to a
message's ``StatusCallback`` and signed inbound messages, as Twilio sends them
(``X-Twilio-Signature`` computed with the SDK's ``RequestValidator`` and the fake's auth
token). Mixed into :class:`devtools.fake_twilio.FakeTwilio`."""

from __future__ import annotations

import asyncio
import secrets
import threading
from typing import TYPE_CHECKING

import httpx
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from devtools.fake_twilio import FakeConfig, FakeMessage


class SignedRequests:
    """Status callbacks and inbound messages; needs ``config``, ``_lock``, ``_by_sid`` and
    ``callbacks`` from the fake."""

    config: FakeConfig
    _lock: threading.Lock
    _by_sid: dict[str, FakeMessage]
    callbacks: list[tuple[str, dict[str, str], int]]

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The ``X-Twilio-Signature`` Twilio would send for ``params`` POSTed to ``url``."""
        signature: str = RequestValidator(self.config.auth_token).compute_signature(url, params)
        return signature

    def post_signed(
        self, url: str, params: dict[str, str], *, signed_for: str | None = None
    ) -> int:
        """POST ``params`` to ``url`` as Twilio does (form-encoded, signed for ``url``, or for
        ``signed_for``: the public URL when ``url`` is a proxy's backend); the HTTP status."""
        headers = {"X-Twilio-Signature": self.sign(signed_for or url, params)}
        try:
            code = httpx.post(url, data=params, headers=headers, timeout=10).status_code
        except httpx.HTTPError:
            code = 0
        with self._lock:
            self.callbacks.append((url, dict(params), code))
        return code

    def advance(self, sid: str, status: str, error_code: int | None = None) -> int | None:
        """Set message ``sid``'s status and post its status callback, if it asked for one
        (the callback's HTTP status; None when it did not)."""
        with self._lock:
            msg = self._by_sid[sid]
            msg.status, msg.error_code = status, error_code if error_code else msg.error_code
        if not msg.status_callback:
            return None
        params = {
            "AccountSid": self.config.account_sid,
            "MessageSid": msg.sid,
            "SmsSid": msg.sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": msg.to,
            "From": msg.from_ or "",
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = str(error_code)
        return self.post_signed(msg.status_callback, params)

    async def _deliver(self, msg: FakeMessage) -> None:
        final = self.config.deliver
        code = self.config.deliver_error_code if final in ("undelivered", "failed") else None
        for status, error in (("sent", None), (final, code)):
            await asyncio.sleep(self.config.callback_delay_ms / 1000)
            await asyncio.to_thread(self.advance, msg.sid, str(status), error)

    def send_inbound(
        self,
        url: str,
        *,
        from_: str,
        body: str,
        to: str = "+15005550006",
        signed_for: str | None = None,
    ) -> int:
        """Post a signed inbound SMS (a reply from ``from_``) to ``url``; the HTTP status."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.config.account_sid,
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        return self.post_signed(url, params, signed_for=signed_for)
