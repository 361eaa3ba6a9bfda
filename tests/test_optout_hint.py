"""The opt-out hint names a path that works for the customer and the sender: a reply keyword
only where replies arrive (never to mainland China, whose Twilio SMS is one-way)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.rendering import Renderer, load_contexts
from revisit.rendering.members import MemberRef
from revisit.rendering.optout_hint import opt_out_hint, opt_out_via, replies_arrive
from revisit.settings import Settings
from tests.factories import make_customer, make_store, make_vehicle

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("receives", "phone", "store_phone", "zh", "en"),
    [
        (True, "+14155550100", "0595-1", "回复TD退订", "Reply STOP to opt out"),
        (True, "+8613900000001", "0595-1", "退订请致电0595-1", "To opt out, call 0595-1"),
        (False, "+14155550100", "0595-1", "退订请致电0595-1", "To opt out, call 0595-1"),
        (False, "+8613900000001", None, "退订请告知泉州店", "To opt out, tell 泉州店"),
        (True, None, "0595-1", "退订请致电0595-1", "To opt out, call 0595-1"),
    ],
)
def test_the_hint_names_a_path_that_works(
    receives: bool, phone: str | None, store_phone: str | None, zh: str, en: str
) -> None:
    replies = replies_arrive(sender_receives_replies=receives, phone=phone)
    via = opt_out_via(replies=replies, store_phone=store_phone)
    for lang, text in (("zh", zh), ("en", en)):
        assert opt_out_hint(lang, via=via, store_phone=store_phone, store_name="泉州店") == text
    assert opt_out_hint("zh", marketing=False, via=via, store_phone=store_phone) == ""


def test_replies_arrive_only_with_a_two_way_twilio_sender() -> None:
    twilio = {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+1500"}
    assert Settings(**twilio, sms_replies=True).receives_replies
    assert not Settings(**twilio).receives_replies  # one-way unless said otherwise
    assert not Settings(TWILIO_ACCOUNT_SID="", sms_replies=True).receives_replies  # console


def test_contexts_and_rendered_texts_carry_the_customer_s_own_hint(engine: Engine) -> None:
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234")
        bare = make_store(s, store_id="XM", name="厦门店", phone=None)
        china = make_customer(s, store_id="QZ", phone="+8613900000001")
        abroad = make_customer(s, store_id="QZ", phone="+14155550100", language="en")
        nophone = make_customer(s, store_id=bare.store_id, phone="+8613900000002")
        members = [
            MemberRef(c.customer_id, [make_vehicle(s, customer=c).vin])
            for c in (china, abroad, nophone)
        ]
        china_id, abroad_id, nophone_id = (c.customer_id for c in (china, abroad, nophone))
        s.commit()
        contexts = load_contexts(
            s, campaign_name="maintenance_due", cohort="maintenance_due", channel="sms",
            as_of=dt.date(2026, 11, 23), members=members, sender_receives_replies=True,
        )  # fmt: skip
    del store
    hints = {cid: (ctx["opt_out_via"], ctx["opt_out_hint"]) for cid, ctx in contexts.items()}
    assert hints == {
        china_id: ("phone", "退订请致电0595-22881234"),
        abroad_id: ("reply", "Reply STOP to opt out"),
        nophone_id: ("store", "退订请告知厦门店"),
    }
    renderer = Renderer(ROOT / "templates")
    # The English customer's text rendered in Chinese keeps the path, in Chinese.
    zh = renderer.render_sms("maintenance_due", "zh", contexts[abroad_id])
    assert zh.text.endswith("回复TD退订")
    en = renderer.render_sms("maintenance_due", "en", contexts[china_id])
    assert en.text.endswith("To opt out, call 0595-22881234")
