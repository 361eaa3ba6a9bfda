"""Inbound SMS replies: opt-out and opt-in words, and every other reply kept for staff.

A reply is matched after NFKC (full-width → half-width: ``ＴＤ`` is ``TD``), trimming
whitespace and punctuation at both ends, and case-folding. Opt-out words are Twilio's
default English list (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT) and the
Chinese ones (退订, TD, T, 取消); opt-in words (START, UNSTOP, YES) lift an opt-out only when
it came from a reply. A reply from a number that several customers share applies to all of
them. Every reply — opt-out words included — is kept as an outcome (``kind=reply``) on the
customer's latest contact, so staff can read it and reports can count opt-outs by campaign;
``detail`` holds the provider's SID of the inbound message, which makes a repeated webhook
a no-op. A reply from a number no customer has is kept in the audit table.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from revisit.campaigns.outcome_codes import OutcomeKind
from revisit.campaigns.statuses import REACHED_STATUSES, OptOutSource, ReplyCode
from revisit.db.tables import AUDIT, CONTACTS, CUSTOMERS, OUTCOMES, utcnow
from revisit.delivery.callbacks import lock_sids
from revisit.dms.phones import mask_phone
from revisit.outcomes.optouts import add_opt_out, remove_opt_out
from revisit.outcomes.records import add_outcomes

#: Twilio's default opt-out keywords, and the ones Chinese recipients use (退订 = unsubscribe;
#: TD and T are its pinyin initials, the convention of Chinese SMS senders).
OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
     "退订", "td", "t", "取消"}
)  # fmt: skip
#: Twilio's default opt-in keywords.
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})
NOTE_CHARS = 1600  # a reply longer than ten SMS segments is cut


def normalise_reply(text: str) -> str:
    """The reply as keywords are matched: NFKC, trimmed of whitespace and punctuation at
    both ends, case-folded (``" ＳＴＯＰ。"`` → ``"stop"``)."""
    folded = unicodedata.normalize("NFKC", text).strip()
    start, end = 0, len(folded)
    while start < end and _trim(folded[start]):
        start += 1
    while end > start and _trim(folded[end - 1]):
        end -= 1
    return folded[start:end].casefold()


def _trim(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def reply_code(text: str) -> ReplyCode:
    """What a reply asks for: an opt-out, an opt-in, or nothing (a message for staff)."""
    word = normalise_reply(text)
    if word in OPT_OUT_WORDS:
        return ReplyCode.OPT_OUT
    if word in OPT_IN_WORDS:
        return ReplyCode.OPT_IN
    return ReplyCode.MESSAGE


@dataclass
class ReplyResult:
    """What :func:`record_reply` did: the reply's code, the customers it concerned, those
    whose opt-out changed, and whether it was a repeat of a reply already recorded."""

    code: ReplyCode
    customer_ids: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    repeated: bool = False


def record_reply(
    conn: Connection,
    *,
    from_phone: str,
    body: str,
    sid: str,
    now: dt.datetime | None = None,
) -> ReplyResult:
    """Record one inbound SMS from ``from_phone`` (E.164, as the provider sends it) in the
    caller's transaction: opt-out or opt-in words change the do-not-contact list, and the
    reply is kept as an outcome of each matching customer (see the module docstring)."""
    now = now or utcnow()
    lock_sids(conn, [sid])  # a webhook retried while the first is still running
    code = reply_code(body)
    customers = sorted(
        str(c)
        for c in conn.execute(
            select(CUSTOMERS.c.customer_id).where(CUSTOMERS.c.phone == from_phone)
        ).scalars()
    )
    result = ReplyResult(code, customers)
    if _seen(conn, sid):
        result.repeated = True
        return result
    if not customers:
        _audit_unmatched(conn, from_phone, body, sid, now)
        return result
    if code is ReplyCode.OPT_OUT:
        reason = f"reply {body.strip()[:40]!r}"
        change = add_opt_out(
            conn, customer_ids=customers, source=OptOutSource.REPLY, reason=reason, now=now
        )
        result.changed = change.added
    elif code is ReplyCode.OPT_IN:
        result.changed = remove_opt_out(
            conn, customer_ids=customers, only_source=OptOutSource.REPLY, reason="reply", now=now
        )
    latest = _latest_contacts(conn, customers)
    add_outcomes(
        conn,
        [
            {
                "contact_id": latest.get(cid),
                "customer_id": cid,
                "kind": OutcomeKind.REPLY,
                "code": code,
                "detail": sid,
                "note": body[:NOTE_CHARS],
            }
            for cid in customers
        ],
    )
    return result


def _seen(conn: Connection, sid: str) -> bool:
    outcome = conn.execute(
        select(OUTCOMES.c.id)
        .where(OUTCOMES.c.kind == OutcomeKind.REPLY, OUTCOMES.c.detail == sid)
        .limit(1)
    ).first()
    if outcome is not None:
        return True
    unmatched = conn.execute(
        select(AUDIT.c.id)
        .where(AUDIT.c.action == "reply_unmatched", AUDIT.c.entity_id == sid)
        .limit(1)
    ).first()
    return unmatched is not None


def _latest_contacts(conn: Connection, customer_ids: list[str]) -> dict[str, int]:
    """customer id → their latest contact that may have reached them (newest by id)."""
    rows = conn.execute(
        select(CONTACTS.c.customer_id, CONTACTS.c.id)
        .where(
            CONTACTS.c.customer_id.in_(customer_ids),
            CONTACTS.c.status.in_([str(s) for s in REACHED_STATUSES]),
        )
        .order_by(CONTACTS.c.id)
    )
    return {str(cid): int(contact_id) for cid, contact_id in rows}


def _audit_unmatched(
    conn: Connection, from_phone: str, body: str, sid: str, now: dt.datetime
) -> None:
    conn.execute(
        insert(AUDIT).values(
            at=now,
            actor="provider",
            action="reply_unmatched",
            entity="message",
            entity_id=sid,
            detail={"from": from_phone, "from_masked": mask_phone(from_phone),
                    "body": body[:NOTE_CHARS]},
        )
    )  # fmt: skip
