"""The SMS channel interface: what the dispatcher hands a provider, and what comes back.

A channel sends one message per call and never raises for a provider's answer: every
answer is classified into a :class:`SendResult`, so the dispatcher decides what is safe
(resend, reconcile, record a permanent failure or stop the run). ``find_sent`` lets the
dispatcher ask the provider whether a message whose outcome is unknown did go out.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from revisit.delivery.channels.provider_errors import RECIPIENT_CODES, account_problem

# Provider error codes with a meaning for the customer rather than for the run.
OPTED_OUT_CODES = frozenset({21610})  # the recipient replied STOP: do not contact
INVALID_PHONE_CODES = frozenset({21211, 21614})  # not a valid (mobile) number
# Delivery errors (status callbacks) that say the number is dead: 30003 unreachable
# handset, 30005 unknown destination handset, 30006 landline or unreachable carrier.
UNDELIVERABLE_PHONE_CODES = frozenset({30003, 30005, 30006})
AUTH_CODES = frozenset({20003})  # authentication failed
THROTTLED_CODES = frozenset({20429})  # too many requests: never processed


class Outcome(StrEnum):
    SENT = "sent"  # the provider accepted the message
    RETRY_LATER = "retry_later"  # the provider did not process it: safe to send again
    UNKNOWN = "unknown"  # it may have gone: reconcile before any resend
    PERMANENT = "permanent"  # refused for good (see error_code)
    AUTH_FAILED = "auth_failed"  # the credentials are wrong: stop the run
    ACCOUNT = "account"  # about the account or the sender, not this recipient: stop the run
    UNSURE = "unsure"  # this recipient, or the sender for every one: held until it is clear


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """One SMS to send: the outbox contact's id, the phone in E.164, the text, and a key that
    stays the same for the contact across retries."""

    contact_id: int
    to: str  # E.164
    body: str
    idempotency_key: str  # stable per contact, a hint for providers that honour one


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider answered to one send: the outcome, its message id (``sid``), the
    segments billed, its status and error code, and ``retry_after`` seconds on a 429."""

    outcome: Outcome
    sid: str | None = None
    segments: int = 1
    provider_status: str | None = None
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the provider said so

    @property
    def opted_out(self) -> bool:
        return self.outcome is Outcome.PERMANENT and _int(self.error_code) in OPTED_OUT_CODES

    @property
    def invalid_phone(self) -> bool:
        return self.outcome is Outcome.PERMANENT and _int(self.error_code) in INVALID_PHONE_CODES


@dataclass(frozen=True, slots=True)
class ProviderMessage:
    """A message as the provider lists it (for reconciliation)."""

    sid: str
    to: str
    body: str
    status: str
    created_at: dt.datetime | None
    sent_at: dt.datetime | None = None
    segments: int = 1
    error_code: str | None = None  # the provider's delivery error, if any


@runtime_checkable
class Channel(Protocol):
    """An SMS provider. ``send`` classifies instead of raising; ``find_sent`` may raise
    :class:`revisit.errors.ProviderError` when the provider cannot be asked."""

    name: str

    async def send(self, sms: OutgoingSms) -> SendResult: ...

    async def find_sent(
        self, *, to: str, since: dt.datetime, body: str
    ) -> list[ProviderMessage]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class StatusLookup(Protocol):
    """A provider that can be asked for one message's current status (delivery-status
    polling, for deployments that cannot receive status callbacks). ``fetch_status``
    returns None when the provider has no such message and raises
    :class:`revisit.errors.ProviderError` when it cannot be asked."""

    name: str

    async def fetch_status(self, sid: str) -> ProviderMessage | None: ...

    async def aclose(self) -> None: ...


def reaches_phones(channel: Channel) -> bool:
    """Whether the channel delivers to real phones (a provider) rather than writing the
    texts somewhere (the console). A channel says so with a ``reaches_phones`` attribute;
    one that does not say is taken to reach phones."""
    return bool(getattr(channel, "reaches_phones", True))


def classify_error(
    *, http_status: int | None, code: int | None, message: str = "", retry_after: float | None
) -> SendResult:
    """Map a provider error answer (HTTP status and provider code) to a :class:`SendResult`.

    ``http_status`` is None when no answer came back after the request was sent (a read
    timeout or a dropped connection): the message may have gone, so the outcome is unknown.
    An error about the account or the sender (:mod:`.provider_errors`) is ``ACCOUNT``: it
    stops the run; one about this recipient or message (``RECIPIENT_CODES``) is
    ``PERMANENT``; any other 4xx answer may be either (``UNSURE``).
    """
    code_text = str(code) if code is not None else (str(http_status) if http_status else None)
    if http_status == 429 or code in THROTTLED_CODES:
        return SendResult(
            Outcome.RETRY_LATER, error_code=code_text, error=message, retry_after=retry_after
        )
    if http_status == 401 or code in AUTH_CODES:
        return SendResult(Outcome.AUTH_FAILED, error_code=code_text, error=message)
    if http_status is None or http_status >= 500:
        return SendResult(Outcome.UNKNOWN, error_code=code_text, error=message)
    if account_problem(code, http_status) is not None:
        return SendResult(Outcome.ACCOUNT, error_code=code_text, error=message)
    if code is not None and code in RECIPIENT_CODES:
        return SendResult(Outcome.PERMANENT, error_code=code_text, error=message)
    return SendResult(Outcome.UNSURE, error_code=code_text, error=message)


def normalise_body(text: str) -> str:
    """The body as compared during reconciliation: NFKC, whitespace runs collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def matching(
    messages: Iterable[ProviderMessage], *, to: str, since: dt.datetime, body: str
) -> list[ProviderMessage]:
    """The messages to ``to`` with ``body`` created at or after ``since`` (to the second),
    whatever their status (queued, accepted, scheduled, sending, sent, delivered, failed…):
    any message the provider accepted counts. A message with no timestamp at all cannot be
    ruled out, so it matches too."""
    floor = since.replace(microsecond=0)
    want = normalise_body(body)
    found = []
    for m in messages:
        when = m.created_at or m.sent_at
        if m.to != to or (when is not None and when < floor):
            continue
        if normalise_body(m.body) == want:
            found.append(m)
    return found


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
