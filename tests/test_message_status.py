"""Delivery statuses: forward only, idempotent, kept until the message is recorded, and
dead-number error codes marking the phone invalid (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import MessageStatus, message_status_moves
from revisit.db.tables import CONTACTS, CUSTOMERS, MESSAGES, PENDING_CALLBACKS
from revisit.delivery import outbox
from revisit.delivery.callbacks import StatusUpdate, apply_pending_callbacks, record_statuses
from revisit.delivery.outbox import Recorded
from tests.dispatch_support import make_run, utcnow


@pytest.mark.parametrize(
    ("old", "new", "moves"),
    [
        ("queued", "sending", True),
        ("accepted", "sent", True),
        ("scheduled", "queued", False),  # same rank: not forward
        ("sending", "sent", True),
        ("sent", "delivered", True),
        ("sent", "undelivered", True),
        ("queued", "failed", True),
        ("sent", "sent", False),  # a repeat
        ("delivered", "sent", False),  # a late sent never overwrites a final status
        ("delivered", "sending", False),
        ("undelivered", "delivered", False),  # final is final
        ("failed", "sent", False),
        ("delivered", "read", True),  # a read receipt follows delivery
        ("undelivered", "read", False),
        ("canceled", "sent", False),
        ("sent", "receiving", False),  # inbound statuses never apply to an outbound message
        ("sent", "bogus", False),
        (None, "queued", True),
    ],
)
def test_a_message_status_only_moves_forward(old: str | None, new: str, moves: bool) -> None:
    assert message_status_moves(old, new) is moves


def test_every_provider_status_has_a_place() -> None:
    inbound = {MessageStatus.RECEIVING, MessageStatus.RECEIVED}
    for status in MessageStatus:
        assert message_status_moves(None, status) is (status not in inbound)


def _record_sent(engine: Engine, run_id: int, sids: dict[int, str]) -> None:
    """What the dispatcher writes when the provider accepted these contacts."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONTACTS.c.id, CONTACTS.c.customer_id, CONTACTS.c.phone, CONTACTS.c.body)
            .where(CONTACTS.c.run_id == run_id)
            .order_by(CONTACTS.c.id)
        ).all()
    outcomes = [
        Recorded(r.id, r.customer_id, "sent", sid=sids[i], to=r.phone, body=r.body,
                 provider_status="queued")
        for i, r in enumerate(rows) if i in sids
    ]  # fmt: skip
    outbox.record(engine, outcomes=outcomes, worker="w", provider="twilio", now=utcnow())


def _status(engine: Engine, sid: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(MESSAGES.c.status, MESSAGES.c.error_code).where(MESSAGES.c.provider_sid == sid)
        ).one()
    return str(row.status), row.error_code


def _apply(engine: Engine, *updates: StatusUpdate) -> None:
    with engine.begin() as conn:
        record_statuses(conn, updates=list(updates), now=utcnow())


def test_statuses_move_forward_and_repeats_change_nothing(engine: Engine) -> None:
    run_id = make_run(engine, 2)
    _record_sent(engine, run_id, {0: "SM0", 1: "SM1"})
    _apply(engine, StatusUpdate("SM0", "sent"))
    _apply(engine, StatusUpdate("SM0", "delivered"))
    _apply(engine, StatusUpdate("SM0", "sent"))  # late
    _apply(engine, StatusUpdate("SM0", "delivered"))  # repeated
    assert _status(engine, "SM0") == ("delivered", None)
    _apply(engine, StatusUpdate("SM1", "undelivered", "30007"), StatusUpdate("SM1", "sent"))
    assert _status(engine, "SM1") == ("undelivered", "30007")


def test_a_callback_before_the_message_is_recorded_is_applied_when_it_is(
    engine: Engine,
) -> None:
    run_id = make_run(engine, 3)
    # The provider calls back before the send's own write commits.
    _apply(engine, StatusUpdate("SM0", "sent"), StatusUpdate("SM0", "delivered"))
    _apply(engine, StatusUpdate("SM2", "failed", "30008"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PENDING_CALLBACKS)).scalar() == 3
    _record_sent(engine, run_id, {0: "SM0", 1: "SM1", 2: "SM2"})
    assert _status(engine, "SM0") == ("delivered", None)
    assert _status(engine, "SM1") == ("queued", None)  # nothing came for it
    assert _status(engine, "SM2") == ("failed", "30008")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PENDING_CALLBACKS)).scalar() == 0


def test_a_callback_for_a_message_never_recorded_stays_kept(engine: Engine) -> None:
    _apply(engine, StatusUpdate("SMunknown", "delivered"))
    with engine.connect() as conn:
        kept = conn.execute(select(PENDING_CALLBACKS.c.provider_sid)).scalars().all()
    assert kept == ["SMunknown"]


@pytest.mark.parametrize(
    ("code", "invalid"),
    [("30003", True), ("30005", True), ("30006", True), ("30007", False), (None, False)],
)
def test_dead_number_delivery_errors_mark_the_phone_invalid(
    engine: Engine, code: str | None, invalid: bool
) -> None:
    run_id = make_run(engine, 1)
    _record_sent(engine, run_id, {0: "SMx"})
    _apply(engine, StatusUpdate("SMx", "undelivered", code))
    with engine.connect() as conn:
        flag = conn.execute(select(CUSTOMERS.c.phone_invalid)).scalar_one()
    assert flag is invalid
    assert _status(engine, "SMx") == ("undelivered", code)


def test_a_dead_number_report_leaves_a_customer_s_new_phone_alone(engine: Engine) -> None:
    run_id = make_run(engine, 1)
    _record_sent(engine, run_id, {0: "SMy"})
    with engine.begin() as conn:  # an import gave the customer a new number since the send
        conn.execute(CUSTOMERS.update().values(phone="+8613800000000"))
    _apply(engine, StatusUpdate("SMy", "undelivered", "30003"))
    with engine.connect() as conn:
        assert conn.execute(select(CUSTOMERS.c.phone_invalid)).scalar_one() is False


def test_an_unknown_status_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown message status 'bogus'"):
        _apply(engine, StatusUpdate("SM0", "bogus"))


def test_pending_callbacks_survive_their_own_transaction_order(engine: Engine) -> None:
    """A message recorded with an early callback twice (a repeated outcome) is not moved
    back: the kept callback is consumed once."""
    run_id = make_run(engine, 1)
    _apply(engine, StatusUpdate("SMz", "delivered"))
    _record_sent(engine, run_id, {0: "SMz"})
    _record_sent(engine, run_id, {0: "SMz"})  # reconciled again: insert ignored
    assert _status(engine, "SMz") == ("delivered", None)


def test_a_callback_racing_the_send_s_own_write_is_never_lost(engine: Engine) -> None:
    """The send's transaction has inserted the message and looked for kept callbacks but not
    committed when the callback arrives: the callback waits for it (an advisory lock on
    PostgreSQL, the single writer on SQLite) and then finds the message."""
    run_id = make_run(engine, 1)
    with engine.connect() as conn:
        contact_id = conn.execute(
            select(CONTACTS.c.id).where(CONTACTS.c.run_id == run_id)
        ).scalar_one()
    worker = threading.Thread(target=_apply, args=(engine, StatusUpdate("SMrace", "delivered")))
    with engine.begin() as conn:
        conn.execute(
            insert(MESSAGES).values(
                contact_id=contact_id, provider="twilio", provider_sid="SMrace", to_phone="+1",
                body="x", segments=1, status="queued", created_at=utcnow(), updated_at=utcnow(),
            )
        )  # fmt: skip
        apply_pending_callbacks(conn, sids=["SMrace"], now=utcnow())
        worker.start()
        time.sleep(0.3)  # the callback arrives while the send's write is still open
    worker.join(timeout=30)
    assert _status(engine, "SMrace") == ("delivered", None)
    assert _pending_count(engine) == 0


def _pending_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(PENDING_CALLBACKS)).scalar_one())
