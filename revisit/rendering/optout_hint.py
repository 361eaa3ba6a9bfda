"""The opt-out hint at the end of a marketing SMS: it names a way to opt out that works for
this customer, never one that cannot be kept.

- ``reply``: "回复TD退订" / "Reply STOP to opt out" — only when the SMS sender receives
  replies (``REVISIT_SMS_REPLIES``, a two-way Twilio sender whose inbound webhook points at
  ``revisit serve``) and the customer is not in mainland China: Twilio's SMS to +86 is
  one-way, a reply never arrives.
- ``phone``: "退订请致电<store phone>" — the store's phone; staff record the opt-out
  (the ``do_not_contact`` call outcome, or ``revisit optout import``).
- ``store``: "退订请告知<store name>" — a store without a phone: tell the store.

Texts that are not marketing (``marketing: false``) carry no hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHINA_PREFIX = "+86"
REPLY_HINTS = {"zh": "回复TD退订", "en": "Reply STOP to opt out"}
PHONE_HINTS = {"zh": "退订请致电{phone}", "en": "To opt out, call {phone}"}
STORE_HINTS = {"zh": "退订请告知{store}", "en": "To opt out, tell {store}"}
#: Kept for templates and tests that name the reply texts.
OPT_OUT_HINTS = REPLY_HINTS


def replies_arrive(*, sender_receives_replies: bool, phone: str | None) -> bool:
    """Whether a reply from ``phone`` (E.164) reaches revisit: the sender must receive
    replies, and Twilio's SMS to mainland China (+86) is one-way."""
    return sender_receives_replies and bool(phone) and not str(phone).startswith(CHINA_PREFIX)


def opt_out_via(*, replies: bool, store_phone: str | None) -> str:
    """The path the hint names: ``reply``, else ``phone`` (the store has one), else ``store``."""
    if replies:
        return "reply"
    return "phone" if store_phone else "store"


def opt_out_hint(
    lang: str,
    *,
    marketing: bool = True,
    via: str = "reply",
    store_phone: str | None = None,
    store_name: str | None = None,
) -> str:
    """The hint in ``lang`` (zh when there is no text in it) for path ``via`` (see
    :func:`opt_out_via`); "" when the text is not marketing."""
    if not marketing:
        return ""
    table = {"reply": REPLY_HINTS, "phone": PHONE_HINTS, "store": STORE_HINTS}[via]
    text = table.get(lang, table["zh"])
    return text.format(phone=store_phone or "", store=store_name or "门店")


def hint_in_language(context: Mapping[str, Any], lang: str) -> str:
    """The context's hint for the same path, in ``lang`` (the template's language may differ
    from the customer's when a template falls back to zh)."""
    hint = str(context.get("opt_out_hint") or "")
    if not hint:
        return ""
    via = context.get("opt_out_via")
    if via is None:  # a context built by hand: tell the path from the text
        via = "reply" if hint in REPLY_HINTS.values() else None
    if via not in ("reply", "phone", "store"):
        return hint
    store = context.get("store") or {}
    return opt_out_hint(lang, via=via, store_phone=store.get("phone"), store_name=store.get("name"))
