"""The Twilio channel: the SDK through our httpx client, against the fake on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import socket
import time
from typing import Any

import httpx
import pytest

from devtools.fake_twilio import FakeConfig, FakeTwilio, serve_fake_twilio
from revisit.delivery.channels import open_sms_channel
from revisit.delivery.channels.base import (
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    classify_error,
)
from revisit.delivery.channels.console import ConsoleChannel
from revisit.delivery.channels.twilio import HttpxTwilioClient, TwilioChannel, timeouts
from revisit.errors import ConfigError, ProviderError
from revisit.settings import Settings

PHONE = "+8613912345678"


def env_settings(**values: Any) -> Settings:
    """Settings from environment-style names (``TWILIO_FROM`` …), as the entry point builds them."""
    return Settings(**values)


def sms(i: int = 1, to: str = PHONE, body: str = "您的爱车保养到期了") -> OutgoingSms:
    return OutgoingSms(i, to, body, f"revisit-contact-{i}")


def send(channel: TwilioChannel, message: OutgoingSms) -> SendResult:
    async def go() -> SendResult:
        try:
            return await channel.send(message)
        finally:
            await channel.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("status", "code", "outcome", "opted_out", "invalid"),
    [
        (429, 20429, Outcome.RETRY_LATER, False, False),
        (401, 20003, Outcome.AUTH_FAILED, False, False),
        (500, 20500, Outcome.UNKNOWN, False, False),
        (503, None, Outcome.UNKNOWN, False, False),
        (None, None, Outcome.UNKNOWN, False, False),
        (400, 21610, Outcome.PERMANENT, True, False),
        (400, 21211, Outcome.PERMANENT, False, True),
        (400, 21614, Outcome.PERMANENT, False, True),
        (400, 21606, Outcome.ACCOUNT, False, False),  # the sender: stops the run
        (400, 21612, Outcome.UNSURE, False, False),  # this number, or the sender
        (400, 21617, Outcome.PERMANENT, False, False),  # this message (body too long)
        (400, 29999, Outcome.UNSURE, False, False),  # not classified: held until clear
    ],
)
def test_classify_error(
    status: int | None, code: int | None, outcome: Outcome, opted_out: bool, invalid: bool
) -> None:
    r = classify_error(http_status=status, code=code, retry_after=None)
    assert (r.outcome, r.opted_out, r.invalid_phone) == (outcome, opted_out, invalid)


def test_sends_through_the_sdk_with_base_url_and_idempotency_hint() -> None:
    with serve_fake_twilio() as fake:
        r = send(TwilioChannel(fake.settings()), sms(7))
        [m] = fake.fake.snapshot()
    assert r.outcome is Outcome.SENT and r.sid == m.sid and r.provider_status == "queued"
    assert (m.to, m.from_, m.idempotency_token) == (PHONE, "+15005550006", "revisit-contact-7")


def test_messaging_service_sid_is_used_when_set() -> None:
    with serve_fake_twilio() as fake:
        mg = "MG" + "a" * 32
        send(TwilioChannel(fake.settings(TWILIO_FROM="", TWILIO_MESSAGING_SERVICE_SID=mg)), sms())
        [m] = fake.fake.snapshot()
    assert (m.from_, m.messaging_service_sid) == (None, mg)


def test_rejected_credentials_are_classified_auth_failed() -> None:
    with serve_fake_twilio() as fake:
        r = send(TwilioChannel(fake.settings(TWILIO_AUTH_TOKEN="nope")), sms())
    assert r.outcome is Outcome.AUTH_FAILED and r.error_code == "20003"


def test_429_carries_retry_after() -> None:
    with serve_fake_twilio(FakeTwilio(FakeConfig(cap_per_second=0, retry_after_s=3))) as fake:
        r = send(TwilioChannel(fake.settings()), sms())
    assert (r.outcome, r.error_code, r.retry_after) == (Outcome.RETRY_LATER, "20429", 3.0)


def test_permanent_error_text_masks_the_phone() -> None:
    with serve_fake_twilio(FakeTwilio(FakeConfig(error_numbers={PHONE: 21211}))) as fake:
        r = send(TwilioChannel(fake.settings()), sms())
    assert r.outcome is Outcome.PERMANENT and r.invalid_phone
    assert PHONE not in (r.error or "") and "+86 139****5678" in (r.error or "")


def test_read_timeout_after_the_message_was_created_is_unknown() -> None:
    cfg = FakeConfig(timeout_rate=1.0, hang_seconds=2)
    with serve_fake_twilio(FakeTwilio(cfg)) as fake:
        r = send(TwilioChannel(fake.settings(), timeout=timeouts(0.3)), sms())
        assert len(fake.fake.snapshot()) == 1
    assert r.outcome is Outcome.UNKNOWN


def test_connection_refused_is_safe_to_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nobody listens there
    settings = env_settings(
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="t",
        TWILIO_FROM="+15005550006",
        twilio_base_url=f"http://127.0.0.1:{port}",
    )
    assert send(TwilioChannel(settings), sms()).outcome is Outcome.RETRY_LATER


def test_find_sent_pages_and_matches_time_and_body() -> None:
    with serve_fake_twilio() as fake:
        now = time.monotonic()
        for i in range(230):  # three pages of 100
            fake.fake._create({"To": PHONE, "Body": f"其他短信{i}", "From": "+1"}, now, None)
        target = fake.fake._create({"To": PHONE, "Body": "保养 提醒", "From": "+1"}, now, None)
        fake.fake._create({"To": "+8613900000000", "Body": "保养 提醒", "From": "+1"}, now, None)
        fake.fake.messages.insert(0, fake.fake.messages.pop())  # listing order is by date
        channel = TwilioChannel(fake.settings())
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)

        async def go() -> tuple[list[ProviderMessage], ...]:
            try:
                return (
                    await channel.find_sent(to=PHONE, since=since, body="保养  提醒"),
                    await channel.find_sent(to=PHONE, since=since, body="别的内容"),
                    await channel.find_sent(
                        to=PHONE, since=since + dt.timedelta(minutes=5), body="保养 提醒"
                    ),
                )
            finally:
                await channel.aclose()

        found, other, later = asyncio.run(go())
        # 3 pages for each of the first two; the third stops at a page reaching before since
        assert fake.fake.list_requests == 3 + 3 + 1
    assert [m.sid for m in found] == [target.sid]
    assert other == [] and later == []


def test_find_sent_raises_provider_error_when_it_cannot_list() -> None:
    with serve_fake_twilio() as fake:
        channel = TwilioChannel(fake.settings(TWILIO_AUTH_TOKEN="nope"))

        async def go() -> None:
            try:
                await channel.find_sent(to=PHONE, since=dt.datetime.now(dt.UTC), body="x")
            finally:
                await channel.aclose()

        with pytest.raises(ProviderError, match=r"\+86 139\*\*\*\*5678"):
            asyncio.run(go())


def test_base_url_rewrite_and_explicit_timeouts() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = HttpxTwilioClient(
        base_url="http://proxy.local:8080/twilio/", transport=httpx.MockTransport(handler)
    )

    async def go() -> None:
        await client.request(
            "GET", "https://api.twilio.com/2010-04-01/Accounts/AC1.json", params={"To": PHONE}
        )
        await client.close()

    asyncio.run(go())
    assert str(seen[0].url) == (
        "http://proxy.local:8080/twilio/2010-04-01/Accounts/AC1.json?To=%2B8613912345678"
    )
    assert seen[0].extensions["timeout"] == {
        "connect": 5.0,
        "read": 15.0,
        "write": 10.0,
        "pool": 30.0,
    }


def test_secrets_and_phones_stay_out_of_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve_fake_twilio() as fake:
        settings = fake.settings()
        send(TwilioChannel(settings), sms())
    assert caplog.records  # the request was logged …
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else "?"
    assert PHONE not in caplog.text and token not in caplog.text


def test_open_sms_channel_picks_twilio_only_with_credentials() -> None:
    stream = io.StringIO()
    console = open_sms_channel(env_settings(TWILIO_ACCOUNT_SID=None), console_stream=stream)
    assert isinstance(console, ConsoleChannel)
    with serve_fake_twilio() as fake:
        channel = open_sms_channel(fake.settings())
        assert isinstance(channel, TwilioChannel)
        asyncio.run(channel.aclose())
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        TwilioChannel(env_settings(TWILIO_ACCOUNT_SID=None))


def test_console_channel_masks_phones_and_finds_what_it_wrote() -> None:
    stream = io.StringIO()
    channel = ConsoleChannel(stream)

    async def go() -> tuple[SendResult, list[ProviderMessage]]:
        r = await channel.send(sms())
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        return r, await channel.find_sent(to=PHONE, since=since, body="您的爱车保养到期了")

    r, found = asyncio.run(go())
    assert r.outcome is Outcome.SENT and [m.sid for m in found] == [r.sid]
    assert PHONE not in stream.getvalue() and "+86 139****5678" in stream.getvalue()
