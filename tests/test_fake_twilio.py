"""The fake Twilio checked against Twilio's published API description (an excerpt of
twilio-oai's twilio_api_v2010.json in tests/data), plus its trouble injection."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, segments, serve_fake_twilio
from revisit.cli import app

SPEC = json.loads((Path(__file__).parent / "data" / "twilio_api_v2010_message.json").read_text())
TYPES = {"string": str, "integer": int, "object": dict}


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(error_numbers={"+8613900000004": 21610}))) as f:
        yield f


def client(fake: RunningFake, token: str | None = None) -> httpx.Client:
    cfg = fake.fake.config
    return httpx.Client(
        base_url=f"{fake.base_url}/2010-04-01/Accounts/{cfg.account_sid}",
        auth=(cfg.account_sid, token or cfg.auth_token),
    )


def check_message(msg: dict[str, Any]) -> None:
    props = SPEC["message"]["properties"]
    assert set(msg) == set(props)
    for name, rule in props.items():
        value = msg[name]
        if value is None:
            assert rule.get("nullable"), name
            continue
        if "type" in rule:
            assert isinstance(value, TYPES[rule["type"]]), name
        if "pattern" in rule:
            assert re.fullmatch(rule["pattern"], value), name
        if rule.get("format") == "date-time-rfc-2822":
            assert parsedate_to_datetime(value).utcoffset() == dt.timedelta(0), name
    assert msg["status"] in SPEC["message_status"]
    assert msg["direction"] in SPEC["message_direction"]


def create(c: httpx.Client, to: str = "+8613900000001", **form: str) -> httpx.Response:
    return c.post("/Messages.json", data={"To": to, "From": "+15005550006", "Body": "你好", **form})


def test_create_fetch_and_list_match_the_published_shapes(fake: RunningFake) -> None:
    with client(fake) as c:
        r = create(c)
        assert r.status_code == SPEC["create_status"]
        msg = r.json()
        check_message(msg)
        assert (msg["status"], msg["num_segments"], msg["price"]) == ("queued", "1", None)
        fetched = c.get(f"/Messages/{msg['sid']}.json")
        assert fetched.status_code == 200
        check_message(fetched.json())
        listed = c.get("/Messages.json", params={"To": "+8613900000001"}).json()
    assert set(listed) == set(SPEC["list_envelope"]["properties"]) | {"messages"}
    assert [m["sid"] for m in listed["messages"]] == [msg["sid"]]
    check_message(listed["messages"][0])


def test_bad_credentials_get_401_with_code_20003(fake: RunningFake) -> None:
    with client(fake, token="wrong") as c:
        r = create(c)
    assert r.status_code == 401 and r.json()["code"] == 20003
    assert set(r.json()) == {"code", "message", "more_info", "status"}
    assert httpx.get(f"{fake.base_url}/2010-04-01/Accounts/AC1/Messages.json").status_code == 401
    assert fake.fake.snapshot() == []


@pytest.mark.parametrize(
    ("form", "code"),
    [({"To": ""}, 21604), ({"From": ""}, 21603), ({"Body": ""}, 21602)],
)
def test_required_fields(fake: RunningFake, form: dict[str, str], code: int) -> None:
    with client(fake) as c:
        r = c.post(
            "/Messages.json", data={"To": "+8613900000001", "From": "+1", "Body": "x", **form}
        )
    assert (r.status_code, r.json()["code"]) == (400, code)


def test_error_numbers_and_unknown_sid(fake: RunningFake) -> None:
    with client(fake) as c:
        r = create(c, to="+8613900000004")
        assert (r.status_code, r.json()["code"]) == (400, 21610)
        assert c.get("/Messages/SM" + "0" * 32 + ".json").status_code == 404
    assert fake.fake.snapshot() == []


def test_cap_answers_429_with_retry_after(fake: RunningFake) -> None:
    fake.fake.config.cap_per_second = 3
    with client(fake) as c:
        codes = [create(c, to=f"+86139000000{i:02d}").status_code for i in range(5)]
        r = create(c, to="+8613900000099")
    assert codes == [201, 201, 201, 429, 429]
    assert r.json()["code"] == 20429 and r.headers["Retry-After"] == "1"
    assert len(fake.fake.snapshot()) == 3 and fake.fake.throttled == 3


def test_fail_after_create_and_timeout_keep_the_message(fake: RunningFake) -> None:
    fake.fake.config.fail_after_create_rate = 1.0
    with client(fake) as c:
        assert create(c).status_code == 500
        fake.fake.config.fail_after_create_rate = 0.0
        fake.fake.config.timeout_rate = 1.0
        fake.fake.config.hang_seconds = 2.0
        with pytest.raises(httpx.ReadTimeout):
            c.post(
                "/Messages.json",
                data={"To": "+8613900000002", "From": "+1", "Body": "x"},
                timeout=0.2,
            )
    assert [m.to for m in fake.fake.snapshot()] == ["+8613900000001", "+8613900000002"]


def test_list_filters_by_gmt_day_and_pages(fake: RunningFake) -> None:
    with client(fake) as c:
        for i in range(5):
            create(c, to="+8613900000001", Body=f"第{i}条")
        create(c, to="+8613900000002")
        old = fake.fake.snapshot()[0]
        old.created = old.created - dt.timedelta(days=2)  # sent two days ago (GMT)
        today = dt.datetime.now(dt.UTC).date()
        params = {"To": "+8613900000001", "PageSize": "2", "DateSent>": today.isoformat()}
        page = c.get("/Messages.json", params=params).json()
        sids = [m["sid"] for m in page["messages"]]
        while page["next_page_uri"]:
            page = httpx.get(fake.base_url + page["next_page_uri"], auth=c.auth).json()  # type: ignore[arg-type]
            sids += [m["sid"] for m in page["messages"]]
        on_old_day = c.get(
            "/Messages.json", params={"DateSent": (today - dt.timedelta(days=2)).isoformat()}
        ).json()
        iso = c.get(
            "/Messages.json",
            params={"DateSent>": f"{today.isoformat()}T23:59:59Z", "To": "+8613900000002"},
        ).json()
    assert len(sids) == len(set(sids)) == 4 and old.sid not in sids
    assert [m["sid"] for m in on_old_day["messages"]] == [old.sid]
    assert len(iso["messages"]) == 1  # a date-time filter still means its whole GMT day


@pytest.mark.parametrize(
    ("body", "n"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("{" * 80, 1),
        ("{" * 81, 2),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
    ],
)
def test_segments(body: str, n: int) -> None:
    assert segments(body) == n


def test_cli_serves_with_options() -> None:
    result = CliRunner().invoke(app, ["dev", "fake-twilio", "--help"])
    assert result.exit_code == 0
    for option in (
        "--port",
        "--latency-ms",
        "--fail-rate",
        "--cap-per-second",
        "--timeout-rate",
        "--error-number",
    ):
        assert option in result.output
    bad = CliRunner().invoke(app, ["dev", "fake-twilio", "--error-number", "+86139"])
    assert bad.exit_code != 0


def test_latency_is_applied() -> None:
    with serve_fake_twilio(FakeTwilio(FakeConfig(latency_ms=150))) as fake, client(fake) as c:
        t0 = time.monotonic()
        create(c)
        assert time.monotonic() - t0 >= 0.15
