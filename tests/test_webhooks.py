"""The web app's Twilio webhooks over loopback, driven by the fake Twilio's signed requests
(SQLite and PostgreSQL): signatures against the public URL, delivery statuses end to end,
replies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, serve_fake_twilio
from revisit.db.tables import CONTACTS, CUSTOMERS, MESSAGES, OPT_OUTS, PENDING_CALLBACKS
from revisit.delivery import outbox
from revisit.delivery.channels.twilio import TwilioChannel, timeouts
from revisit.delivery.outbox import Recorded
from revisit.settings import Settings
from revisit.web import create_app
from tests.dispatch_support import dispatch, make_run, message_sids, utcnow
from tests.web_support import serve_app

PUBLIC = "https://revisit.example.com"


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=7))) as running:
        yield running


def _statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(MESSAGES.c.provider_sid, MESSAGES.c.status)).all()
    return {str(sid): str(s) for sid, s in rows}


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(PENDING_CALLBACKS)).scalar_one())


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def app_url(engine: Engine, fake: RunningFake) -> Iterator[str]:
    """The app behind a proxy: Twilio knows it as PUBLIC, it listens on loopback."""
    with serve_app(lambda _url: create_app(fake.settings(public_url=PUBLIC), engine)) as url:
        yield url


def _post(url: str, params: dict[str, str], signature: str | None) -> httpx.Response:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return httpx.post(url, data=params, headers=headers, timeout=10)


def _sent_run(engine: Engine, fake: RunningFake, n: int = 2) -> dict[str, str]:
    run_id = make_run(engine, n)
    channel = lambda: TwilioChannel(fake.settings(), timeout=timeouts(2.0))  # noqa: E731
    dispatch(engine, channel, run_id=run_id)
    return message_sids(engine, run_id)


def test_healthz(app_url: str) -> None:
    resp = httpx.get(f"{app_url}/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "database": "ok"}


def test_unsigned_forged_or_misaddressed_callbacks_are_refused_and_change_nothing(
    engine: Engine, fake: RunningFake, app_url: str
) -> None:
    sid = next(iter(_sent_run(engine, fake, 1).values()))
    before = _statuses(engine)
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC1"}
    good = fake.fake.sign(f"{PUBLIC}/twilio/status", params)
    forged = FakeTwilio(FakeConfig(auth_token="someone-else")).sign(
        f"{PUBLIC}/twilio/status", params
    )
    # Signed for the address the request really reached: the Host header is never trusted.
    local = fake.fake.sign(f"{app_url}/twilio/status", params)
    tampered = {**params, "MessageStatus": "failed"}
    for body, signature in [
        (params, None), (params, ""), (params, forged), (params, local), (tampered, good),
    ]:  # fmt: skip
        assert _post(f"{app_url}/twilio/status", body, signature).status_code == 403
    assert _statuses(engine) == before and _pending(engine) == 0
    assert _post(f"{app_url}/twilio/status", params, good).status_code == 204
    assert _statuses(engine)[sid] == "delivered"


def test_the_query_string_is_part_of_the_signed_url(
    engine: Engine, fake: RunningFake, app_url: str
) -> None:
    sid = next(iter(_sent_run(engine, fake, 1).values()))
    params = {"MessageSid": sid, "MessageStatus": "sent"}
    path = "/twilio/status?" + urlencode({"store": "S1"})
    unsigned_query = fake.fake.sign(f"{PUBLIC}/twilio/status", params)
    assert _post(app_url + path, params, unsigned_query).status_code == 403
    assert _post(app_url + path, params, fake.fake.sign(PUBLIC + path, params)).status_code == 204


def test_webhooks_are_refused_without_a_public_url(engine: Engine, fake: RunningFake) -> None:
    settings = fake.settings()
    assert settings.public_url is None
    with serve_app(lambda _url: create_app(settings, engine)) as url:
        params = {"MessageSid": "SM1", "MessageStatus": "sent"}
        signature = fake.fake.sign(f"{url}/twilio/status", params)
        assert _post(f"{url}/twilio/status", params, signature).status_code == 403
    assert _pending(engine) == 0


def test_bad_status_forms_get_400(engine: Engine, fake: RunningFake, app_url: str) -> None:
    for params in (
        {"MessageStatus": "sent"},
        {"MessageSid": "SM1", "MessageStatus": "nope"},
        {"MessageSid": "SM1", "MessageStatus": "received"},  # an inbound message's status
    ):
        signature = fake.fake.sign(f"{PUBLIC}/twilio/status", params)
        assert _post(f"{app_url}/twilio/status", params, signature).status_code == 400
    assert _pending(engine) == 0


def test_late_sent_after_delivered_and_early_callbacks_over_http(
    engine: Engine, fake: RunningFake, app_url: str
) -> None:
    url = f"{app_url}/twilio/status"

    def send(sid: str, status: str) -> int:
        params = {"MessageSid": sid, "MessageStatus": status}
        return _post(url, params, fake.fake.sign(f"{PUBLIC}/twilio/status", params)).status_code

    sids = _sent_run(engine, fake, 1)
    sid = next(iter(sids.values()))
    assert [send(sid, s) for s in ("delivered", "sent", "delivered")] == [204] * 3
    assert _statuses(engine)[sid] == "delivered"
    # A callback for a message the dispatcher has not recorded yet is kept...
    assert send("SMlater", "delivered") == 204
    assert _pending(engine) == 1
    run_id = make_run(engine, 1)
    with engine.connect() as conn:
        c = conn.execute(select(CONTACTS).where(CONTACTS.c.run_id == run_id)).one()
    outbox.record(
        engine,
        outcomes=[Recorded(c.id, c.customer_id, "sent", sid="SMlater", to=c.phone, body=c.body)],
        worker="w", provider="twilio", now=utcnow(),
    )  # fmt: skip
    # ...and applied once it is.
    assert _statuses(engine)["SMlater"] == "delivered" and _pending(engine) == 0


def test_status_callbacks_race_the_send_and_every_message_ends_delivered(
    engine: Engine, fake: RunningFake
) -> None:
    """End to end: every SMS asks for callbacks at the public URL; the fake posts ``sent``
    and ``delivered`` at once, usually before the dispatcher has recorded the message."""
    fake.fake.config.deliver = "delivered"
    with serve_app(lambda url: create_app(fake.settings(public_url=url), engine)) as url:
        run_id = make_run(engine, 30)
        settings = fake.settings(public_url=url)
        dispatch(engine, lambda: TwilioChannel(settings, timeout=timeouts(2.0)), run_id=run_id)
        _wait(lambda: len(fake.fake.callbacks) == 60)
    assert {m.status_callback for m in fake.fake.snapshot()} == {f"{url}/twilio/status"}
    assert {code for _u, _p, code in fake.fake.callbacks} == {204}
    sids = message_sids(engine, run_id)
    assert set(_statuses(engine)) == set(sids.values())
    assert set(_statuses(engine).values()) == {"delivered"}
    assert _pending(engine) == 0


def test_undelivered_to_a_dead_number_end_to_end(engine: Engine, fake: RunningFake) -> None:
    fake.fake.config.deliver, fake.fake.config.deliver_error_code = "undelivered", 30005
    with serve_app(lambda url: create_app(fake.settings(public_url=url), engine)) as url:
        run_id = make_run(engine, 2)
        settings = fake.settings(public_url=url)
        dispatch(engine, lambda: TwilioChannel(settings, timeout=timeouts(2.0)), run_id=run_id)
        _wait(lambda: len(fake.fake.callbacks) == 4)
    with engine.connect() as conn:
        flags = conn.execute(select(CUSTOMERS.c.phone_invalid)).scalars().all()
        codes = conn.execute(select(MESSAGES.c.error_code)).scalars().all()
    assert flags == [True, True] and codes == ["30005", "30005"]


def test_replies_over_http_opt_out_and_back_in(
    engine: Engine, fake: RunningFake, app_url: str
) -> None:
    make_run(engine, 2)
    with engine.connect() as conn:
        mobile = conn.execute(select(CUSTOMERS.c.phone).order_by(CUSTOMERS.c.customer_id)).scalar()
    inbound, public = f"{app_url}/twilio/inbound", f"{PUBLIC}/twilio/inbound"
    assert fake.fake.send_inbound(inbound, from_=mobile, body="STOP", signed_for=public) == 200
    assert _opt_outs(engine) == ["reply"]
    # Signed for the address it reached rather than the public URL: refused, nothing changes.
    assert fake.fake.send_inbound(inbound, from_=mobile, body="START") == 403
    assert _opt_outs(engine) == ["reply"]
    params = {"From": mobile, "Body": "START", "MessageSid": "SMin1"}
    resp = _post(inbound, params, fake.fake.sign(public, params))
    assert resp.status_code == 200 and "<Response/>" in resp.text
    assert _opt_outs(engine) == []
    assert fake.fake.send_inbound(inbound, from_=mobile, body=" 退订", signed_for=public) == 200
    assert _opt_outs(engine) == ["reply"]
    missing = {"Body": "STOP", "MessageSid": "SMin2"}
    assert _post(inbound, missing, fake.fake.sign(public, missing)).status_code == 400


def _opt_outs(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(s) for s in conn.execute(select(OPT_OUTS.c.source)).scalars()]


def test_status_callback_is_asked_for_only_with_a_public_url(
    engine: Engine, fake: RunningFake
) -> None:
    _sent_run(engine, fake, 1)
    assert [m.status_callback for m in fake.fake.snapshot()] == [None]
    assert Settings(public_url=" https://x.example.com/ ").status_callback_url == (
        "https://x.example.com/twilio/status"
    )
    with pytest.raises(ValueError, match="must start with https://"):
        Settings(public_url="revisit.example.com")


def test_a_public_url_with_a_path_prefix_the_proxy_strips(
    engine: Engine, fake: RunningFake
) -> None:
    public = "https://dealer.example.com/revisit"
    with serve_app(lambda _url: create_app(fake.settings(public_url=public), engine)) as url:
        params = {"MessageSid": "SMp", "MessageStatus": "sent"}
        signed = fake.fake.sign(f"{public}/twilio/status", params)
        assert _post(f"{url}/twilio/status", params, signed).status_code == 204
    assert _pending(engine) == 1  # kept: no such message yet
