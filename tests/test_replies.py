"""Inbound replies and the do-not-contact list (SQLite and PostgreSQL): opt-out words in
their many spellings, opt-in only for reply opt-outs, replies kept for staff, pending
contacts never sent after an opt-out — before a run resumes or in the middle of one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.statuses import OptOutSource, ReplyCode
from revisit.db.tables import AUDIT, CONTACTS, CUSTOMERS, OPT_OUTS, OUTCOMES
from revisit.delivery.channels.base import Channel, OutgoingSms, ProviderMessage, SendResult
from revisit.delivery.channels.console import ConsoleChannel
from revisit.entry.runs import RunOptions, pinned_clock, run_campaign
from revisit.outcomes.calls import CallOutcome, record_call_outcomes
from revisit.outcomes.optouts import add_opt_out
from revisit.outcomes.replies import normalise_reply, record_reply, reply_code
from revisit.settings import Settings
from tests.dispatch_support import contact_statuses, dispatch, make_run
from tests.factories import make_customer
from tests.test_runs import AS_OF, MORNING, NIGHT, dealership, run, settings_for


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("STOP", ReplyCode.OPT_OUT), ("stop", ReplyCode.OPT_OUT), (" Stop\n", ReplyCode.OPT_OUT),
        ("ＳＴＯＰ", ReplyCode.OPT_OUT), ("ｔｄ ", ReplyCode.OPT_OUT), ("TD", ReplyCode.OPT_OUT),
        ("t", ReplyCode.OPT_OUT), ("退订", ReplyCode.OPT_OUT), ("退订。", ReplyCode.OPT_OUT),
        ("取消", ReplyCode.OPT_OUT), ("unsubscribe", ReplyCode.OPT_OUT),
        ("STOPALL", ReplyCode.OPT_OUT), ("cancel", ReplyCode.OPT_OUT), ("END", ReplyCode.OPT_OUT),
        ("quit", ReplyCode.OPT_OUT), ("REVOKE", ReplyCode.OPT_OUT), ("optout", ReplyCode.OPT_OUT),
        ("START", ReplyCode.OPT_IN), ("unstop", ReplyCode.OPT_IN), ("Yes!", ReplyCode.OPT_IN),
        ("明天下午过来", ReplyCode.MESSAGE), ("stop sending me the price list", ReplyCode.MESSAGE),
        ("TDD", ReplyCode.MESSAGE), ("", ReplyCode.MESSAGE), ("好的", ReplyCode.MESSAGE),
    ],
)  # fmt: skip
def test_reply_words(text: str, code: ReplyCode) -> None:
    assert reply_code(text) is code


_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


@given(
    word=st.sampled_from(["stop", "td", "t", "unsubscribe", "quit", "退订", "取消", "optout"]),
    upper=st.lists(st.booleans(), min_size=12, max_size=12),
    wide=st.booleans(),
    pad=st.sampled_from(["", " ", "\u3000", "\t", "\n", " 。", "!"]),
)
def test_any_spelling_of_an_opt_out_word_opts_out(
    word: str, upper: list[bool], wide: bool, pad: str
) -> None:
    text = "".join(ch.upper() if up else ch for ch, up in zip(word, upper, strict=False))
    if wide:
        text = "".join(_FULL_WIDTH.get(ch, ch) for ch in text)
    assert normalise_reply(pad + text + pad) == word
    assert reply_code(pad + text + pad) is ReplyCode.OPT_OUT


def _customers(engine: Engine, n: int, **kw: Any) -> list[str]:
    with Session(engine) as s:
        ids = [make_customer(s, **kw).customer_id for _ in range(n)]
        s.commit()
    return ids


def _reply(engine: Engine, phone: str, body: str, sid: str) -> Any:
    with engine.begin() as conn:
        return record_reply(conn, from_phone=phone, body=body, sid=sid)


def _sources(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {str(c): str(s) for c, s in conn.execute(select(OPT_OUTS.c.customer_id,
                                                                OPT_OUTS.c.source))}  # fmt: skip


def test_stop_then_start_from_a_shared_number_applies_to_every_customer(engine: Engine) -> None:
    shared = "+8613912345678"
    a, b = _customers(engine, 2, phone=shared)
    (other,) = _customers(engine, 1)
    result = _reply(engine, shared, "ＳＴＯＰ", "SM1")
    assert result.customer_ids == [a, b] and result.changed == [a, b]
    assert _sources(engine) == {a: "reply", b: "reply"}
    assert _reply(engine, shared, "ＳＴＯＰ", "SM1").repeated  # the same webhook again
    _reply(engine, shared, "start", "SM2")
    assert _sources(engine) == {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTCOMES.c.customer_id, OUTCOMES.c.kind, OUTCOMES.c.code).order_by(OUTCOMES.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (a, "reply", "opt_out"), (b, "reply", "opt_out"),
        (a, "reply", "opt_in"), (b, "reply", "opt_in"),
    ]  # fmt: skip
    assert other not in _sources(engine)


def test_start_lifts_only_a_reply_opt_out(engine: Engine) -> None:
    (cid,) = _customers(engine, 1, phone="+8613900000099")
    with engine.begin() as conn:
        add_opt_out(conn, customer_ids=[cid], source=OptOutSource.STAFF, reason="on the phone")
    _reply(engine, "+8613900000099", "START", "SM1")
    assert _sources(engine) == {cid: "staff"}
    # A reply opt-out becomes a staff one when staff record it too, and START keeps it.
    (other,) = _customers(engine, 1, phone="+8613900000098")
    _reply(engine, "+8613900000098", "TD", "SM2")
    with engine.begin() as conn:
        add_opt_out(conn, customer_ids=[other], source=OptOutSource.IMPORT, reason="list")
    _reply(engine, "+8613900000098", "UNSTOP", "SM3")
    assert _sources(engine) == {cid: "staff", other: "import"}


def test_any_other_reply_is_kept_on_the_customer_s_latest_contact(engine: Engine) -> None:
    run_id = make_run(engine, 1)
    dispatch(engine, ConsoleChannel, run_id=run_id)  # the contact is sent
    with engine.connect() as conn:
        cid, phone, contact_id = conn.execute(
            select(CONTACTS.c.customer_id, CONTACTS.c.phone, CONTACTS.c.id)
        ).one()
    result = _reply(engine, phone, "明天下午过来", "SMr1")
    assert result.code is ReplyCode.MESSAGE and result.changed == []
    with engine.connect() as conn:
        row = conn.execute(select(OUTCOMES)).one()
    assert (row.contact_id, row.customer_id, row.kind, row.code, row.note) == (
        contact_id, cid, "reply", "message", "明天下午过来",
    )  # fmt: skip
    assert _sources(engine) == {}


def test_a_reply_from_an_unknown_number_is_kept_in_the_audit(engine: Engine) -> None:
    result = _reply(engine, "+8613700000000", "你们是谁", "SMu1")
    assert result.customer_ids == []
    assert _reply(engine, "+8613700000000", "你们是谁", "SMu1").repeated
    with engine.connect() as conn:
        rows = conn.execute(select(AUDIT.c.action, AUDIT.c.detail)).all()
    assert len(rows) == 1 and rows[0].action == "reply_unmatched"
    assert rows[0].detail["body"] == "你们是谁"


def test_opt_out_replies_stop_pending_contacts_and_every_later_run(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Acceptance: STOP, 'ｔｄ ', 退订 — no later run contacts them, their pending contacts
    are not sent; START brings a reply opt-out back."""
    dealership(engine, n_due=10)
    settings = settings_for(db_url, tmp_path)
    night = run(engine, settings, "maintenance_due", NIGHT)  # deferred: contacts pending
    assert night.status == "deferred"
    with engine.connect() as conn:
        pending = conn.execute(
            select(CONTACTS.c.customer_id, CUSTOMERS.c.phone)
            .join(CUSTOMERS, CUSTOMERS.c.customer_id == CONTACTS.c.customer_id)
            .where(CONTACTS.c.status == "pending")
            .order_by(CONTACTS.c.customer_id)
        ).all()
    assert len(pending) >= 5  # three opt out, the others are sent
    stopped = [r.customer_id for r in pending[:3]]
    for (_cid, phone), word in zip(pending[:3], ["STOP", "ｔｄ ", "退订"], strict=True):
        _reply(engine, phone, word, f"SM{word.strip()}")
    morning = run(engine, settings, "maintenance_due", MORNING + dt.timedelta(days=1))
    assert morning.status == "done"
    with engine.connect() as conn:
        sent = set(conn.execute(
            select(CONTACTS.c.customer_id).where(CONTACTS.c.status == "sent")
        ).scalars())  # fmt: skip
        reasons = dict(conn.execute(
            select(CONTACTS.c.customer_id, CONTACTS.c.reason)
            .where(CONTACTS.c.customer_id.in_(stopped))
        ).all())  # fmt: skip
    assert sent and not sent & set(stopped)
    assert set(reasons.values()) == {"do_not_contact"}
    # Every later run excludes them...
    _run_on(engine, settings, AS_OF + dt.timedelta(days=1))
    assert _day_reasons(engine, AS_OF + dt.timedelta(days=1), stopped) == {
        cid: "do_not_contact" for cid in stopped
    }
    # ...until START lifts a reply opt-out.
    _reply(engine, pending[0].phone, "START", "SMstart")
    assert set(_sources(engine)) == set(stopped[1:])
    _run_on(engine, settings, AS_OF + dt.timedelta(days=2))
    after = _day_reasons(engine, AS_OF + dt.timedelta(days=2), stopped)
    assert after[stopped[0]] != "do_not_contact"
    assert {after[c] for c in stopped[1:]} == {"do_not_contact"}


def _run_on(engine: Engine, settings: Settings, day: dt.date) -> None:
    campaigns = load_campaigns(settings.campaigns_dir)
    at = dt.datetime.combine(day, MORNING.timetz())
    run_campaign(
        engine, campaign=campaigns["maintenance_due"], campaigns=campaigns, as_of=day,
        clock=pinned_clock(at), settings=settings, options=RunOptions(),
    )  # fmt: skip


def _day_reasons(engine: Engine, day: dt.date, customer_ids: list[str]) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONTACTS.c.customer_id, CONTACTS.c.reason).where(
                CONTACTS.c.as_of == day, CONTACTS.c.customer_id.in_(customer_ids)
            )
        ).all()
    return {str(c): r for c, r in rows}


class _OptOutDuringRun:
    """The console channel, with one customer replying TD while the run is sending."""

    name = "console"

    def __init__(self, engine: Engine, phone: str) -> None:
        self.inner, self.engine, self.phone, self.sends = ConsoleChannel(), engine, phone, 0

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.sends += 1
        if self.sends == 1:
            _reply(self.engine, self.phone, "TD", "SMmid")
        return await self.inner.send(sms)

    async def find_sent(self, *, to: str, since: dt.datetime, body: str) -> list[ProviderMessage]:
        return await self.inner.find_sent(to=to, since=since, body=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_customer_who_opts_out_mid_run_is_not_sent(engine: Engine) -> None:
    run_id = make_run(engine, 6)
    phones = sorted(contact_statuses(engine, run_id))
    late = phones[-1]  # claimed last: still pending when the reply comes
    channel: Channel = _OptOutDuringRun(engine, late)
    dispatch(engine, lambda: channel, run_id=run_id, concurrency=1, batch_size=1)
    statuses = contact_statuses(engine, run_id)
    assert statuses[late] == "excluded"
    assert {p: s for p, s in statuses.items() if p != late} == {p: "sent" for p in phones[:-1]}


def test_a_caller_s_do_not_contact_goes_through_the_same_opt_out(engine: Engine) -> None:
    """Another way in: the staff outcome ``do_not_contact`` (a customer who says so on the
    phone) also stops the customer's contacts still pending, and START cannot lift it."""
    run_id = make_run(engine, 2)
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONTACTS.c.id, CONTACTS.c.customer_id, CONTACTS.c.phone)
            .where(CONTACTS.c.run_id == run_id)
            .order_by(CONTACTS.c.id)
        ).all()
    (told, cid, phone), other = rows[0], rows[1]
    with engine.begin() as conn:  # an outcome is only for a contact sent or listed
        refused = record_call_outcomes(conn, [CallOutcome(told, "do_not_contact")])
        ((_, problem),) = refused.problems or ()
        assert str(problem).endswith(f"customer {cid}) was never sent or listed (pending)")
        conn.execute(update(CONTACTS).where(CONTACTS.c.id == told).values(status="sent"))
    with engine.begin() as conn:  # the SMS went out; then the customer told a caller
        record_call_outcomes(
            conn, [CallOutcome(told, "do_not_contact", staff="李娜", note="不要再打")]
        )
    assert _sources(engine) == {cid: "staff"}
    statuses = contact_statuses(engine, run_id)
    assert (statuses[phone], statuses[other.phone]) == ("sent", "pending")
    _reply(engine, phone, "START", "SMstart2")
    assert _sources(engine) == {cid: "staff"}
