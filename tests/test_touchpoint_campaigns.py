"""The shipped touchpoint campaigns: greetings with no commercial content, the campaign
file's occasion and offer, the contact rules every one of them goes through, the new-car
texts, and repeat-repair call lists that go to the store's service manager."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from revisit.campaigns.config import load_campaign, load_campaigns
from revisit.campaigns.plan import plan_campaign
from revisit.campaigns.rules import in_holdout
from revisit.campaigns.statuses import ChannelKind
from revisit.cli import app
from revisit.db.tables import OptOut
from revisit.entry.preview import preview
from revisit.entry.runs import RunOptions, pinned_clock, run_campaign
from revisit.errors import ConfigError
from revisit.rendering import Renderer, load_contexts, member_refs
from revisit.rendering.optout_hint import PHONE_HINTS, REPLY_HINTS, STORE_HINTS
from revisit.settings import Settings
from tests.factories import make_customer, make_store, make_vehicle, make_visit
from tests.test_rules import add_contact
from tests.test_runs import NO_TWILIO, ROOT, contacts, settings_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
FESTIVAL_DAY = dt.date(2027, 2, 6)  # the shipped festival.yaml: 春节
CAMPAIGNS = load_campaigns(ROOT / "campaigns")

# Words a greeting must not contain: price, money, discount, free, offer, booking.
COMMERCIAL = re.compile(
    r"元|¥|￥|\$|优惠|折|免费|预约|价格|价钱|费用|特价|促销|活动|订|券|礼|"
    r"price|offer|discount|free|book|deal|sale|promo|voucher|coupon|%|\d+\s*(?:rmb|yuan)",
    re.IGNORECASE,
)
# The opt-out hint names a way to stop texts (退订: reply, or the store's phone), which is
# not a sales word: every form of it, whatever phone or store it names.
HINT = re.compile(
    "|".join(
        re.escape(text)
        .replace(re.escape("{phone}"), r"[\d+\- ]+")
        .replace(re.escape("{store}"), r"\S+")
        for table in (REPLY_HINTS, PHONE_HINTS, STORE_HINTS)
        for text in table.values()
    )
)


def commercial_words(text: str) -> list[str]:
    return COMMERCIAL.findall(HINT.sub("", text))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("祝您节日快乐", []),
        ("保养立减100元", ["元"]),
        ("Book now for 20% off", ["Book", "%"]),
        ("凭此短信享受八折", ["折"]),
        ("Happy Spring Festival! Reply STOP to opt out", []),
        ("春节快乐!退订请致电0595-22881234", []),
        ("春节快乐!退订请告知丰泽店", []),
        ("春节快乐!退订请致电0595-22881234,预约享八折", ["预约", "折"]),
    ],
)
def test_the_scan_finds_commercial_words(text: str, found: list[str]) -> None:
    assert commercial_words(text) == found


def greeting_campaigns() -> list[str]:
    return sorted(n for n, c in CAMPAIGNS.items() if c.occasion is not None)


def test_festival_templates_have_no_commercial_content() -> None:
    """Every shipped greeting template (zh and en) is free of price, offer and booking
    words, uses no booking macro or phone number, and its campaign carries no offer."""
    assert greeting_campaigns() == ["festival"]
    for name in greeting_campaigns():
        campaign = CAMPAIGNS[name]
        assert set(campaign.templates) == {"zh", "en"}
        for path in campaign.templates.values():
            source = (ROOT / "templates" / path).read_text(encoding="utf-8")
            text = re.sub(r"{#.*?#}|{%.*?%}", "", source, flags=re.DOTALL)  # what is sent
            assert commercial_words(text) == [], path
            assert "book(" not in source and "store.phone" not in source, path
        assert campaign.occasion is not None and campaign.offer is None
        assert commercial_words(str(campaign.occasion.name)) == []


def test_festival_renders_without_commercial_content(engine: Engine, tmp_path: Path) -> None:
    """The rendered greeting of a customer in each language (store name, occasion, hint
    included) has no price, offer or booking word either."""
    c = CAMPAIGNS["festival"]
    with Session(engine) as s:
        store = make_store(
            s, name="鸿达汽车丰泽服务中心", phone="0595-22881234", address="刺桐路688号"
        )
        for lang in ("zh", "en"):
            make_vehicle(s, customer=make_customer(s, store_id=store.store_id, language=lang),
                         purchase_date=dt.date(2025, 3, 1))  # fmt: skip
        s.commit()
        plan = plan_campaign(s, campaign=c, as_of=FESTIVAL_DAY, now=noon(FESTIVAL_DAY))
        rows = plan.by_status("to_contact")
        contexts = load_contexts(
            s, campaign_name=c.name, cohort=c.cohort, channel=c.channel, as_of=FESTIVAL_DAY,
            members=member_refs(m for r in rows for m in r.members),
            campaign_vars=c.template_vars(),
        )  # fmt: skip
    renderer = Renderer(ROOT / "templates")
    texts = [renderer.render_sms(c.name, str(x["language"]), x, templates=c.templates).text
             for x in contexts.values()]  # fmt: skip
    assert len(texts) == 2
    assert any("春节" in t for t in texts) and any("Spring Festival" in t for t in texts)
    for text in texts:
        assert commercial_words(text) == [], text


# --- the campaign file's content --------------------------------------------------------


BASE = """cohort: active_customers
channel: sms
templates: {zh: sms/festival.zh.j2, en: sms/festival.en.j2}
priority: 15
"""
OCCASION = "occasion: {name: {zh: 中秋节, en: Mid-Autumn Festival}, date: 2027-09-15}\n"
OFFER = "offer: {text: {zh: 免费检查, en: a free check}, valid_from: 2027-05-15, valid_until: 2027-06-30}\n"  # noqa: E501


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (OCCASION + OFFER, "offer: a greeting for an occasion carries no offer"),
        ("occasion: {name: {en: Mid-Autumn}, date: 2027-09-15}\n", "a zh text is needed"),
        ("occasion: {name: {zh: 中秋节}, date: 2027-09-15}\n", "occasion.name: no text for en"),
        ("offer: {text: {zh: 检查, en: a check}, valid_from: 2027-07-01, valid_until: 2027-06-30}\n",  # noqa: E501
         "valid_from must not be after valid_until"),
        ("offer: {text: {zh: 检查, fr: contrôle}, valid_from: 2027-05-01, valid_until: 2027-06-30}\n",  # noqa: E501
         "unknown language 'fr'"),
        ("workshop_hours: {start: '18:00', end: '08:00'}\n", "start must be before end"),
        ("call_to: service_manager\n", "call_to: only a call campaign"),
        (OCCASION + "schedule: daily\n", "schedule: a campaign with an occasion or an offer"),
    ],
)  # fmt: skip
def test_content_errors_name_the_file_and_field(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "greeting.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_campaign(path)
    assert str(path) in str(err.value)


def test_content_reaches_the_templates(tmp_path: Path) -> None:
    path = tmp_path / "greeting.yaml"
    path.write_text(BASE + OCCASION, encoding="utf-8")
    values = load_campaign(path).template_vars()
    assert values["occasion"]["date"] == dt.date(2027, 9, 15)
    assert values["offer"] is None and values["workshop_hours"]["label"] == "08:30–17:30"


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=SHANGHAI)


def run(engine: Engine, settings: Settings, name: str, day: dt.date, **opts: Any) -> Any:
    return run_campaign(
        engine, campaign=CAMPAIGNS[name], campaigns=CAMPAIGNS, as_of=day,
        clock=pinned_clock(noon(day)), settings=settings, options=RunOptions(**opts),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "day", "message"),
    [
        ("festival", FESTIVAL_DAY - dt.timedelta(days=1), "the greeting is for 春节 on 2027-02-06"),
        ("seasonal", dt.date(2027, 7, 1), "its offer ended on 2027-06-30"),
        # regression: sent on 2026-11-30 for an offer of 2027-05-15..06-30
        ("seasonal", dt.date(2026, 11, 30), "its offer starts on 2027-05-15"),
        ("seasonal", dt.date(2027, 4, 14), "may be announced from 2027-04-15"),
    ],
)
def test_a_campaign_runs_only_on_its_days(
    engine: Engine, db_url: str, tmp_path: Path, name: str, day: dt.date, message: str
) -> None:
    with Session(engine) as s:
        make_vehicle(s, customer=make_customer(s), purchase_date=dt.date(2026, 1, 1))
        s.commit()
    settings = settings_for(db_url, tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        run(engine, settings, name, day)
    assert run(engine, settings, name, day, dry_run=True).status == "dry_run"  # a preview may
    env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_OUTPUT_DIR": str(tmp_path),
           "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
           "REVISIT_TEMPLATES_DIR": str(ROOT / "templates")}  # fmt: skip
    env |= {k: "" for k in NO_TWILIO}
    result = CliRunner().invoke(app, ["campaign", "run", name, "--as-of", day.isoformat()], env=env)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


# --- every rule applies ----------------------------------------------------------------------


def test_seasonal_goes_through_every_contact_rule(engine: Engine) -> None:
    """Opt-out, the SMS cap, the holdout, the car-age filter and the send window apply to
    a manual customer-level campaign as to any other."""
    c = CAMPAIGNS["seasonal"]
    day = dt.date(2027, 5, 20)
    with Session(engine, expire_on_commit=False) as s:
        people = {}
        for i in range(40):
            people[i] = make_customer(s, customer_id=f"K{i:03d}")
            car = make_vehicle(s, customer=people[i], purchase_date=dt.date(2024, 5, 1))
            make_visit(s, vehicle=car, date=dt.date(2027, 1, 10), type="maintenance")
        young = make_customer(s)
        make_vehicle(s, customer=young, purchase_date=dt.date(2026, 1, 1))  # car age 1: filtered
        s.add(OptOut(customer_id="K000", source="staff"))
        add_contact(s, "K001", campaign="birthday", as_of=day - dt.timedelta(days=3))
        s.commit()
        night = dt.datetime.combine(day, dt.time(22, 0), tzinfo=SHANGHAI)
        plan = plan_campaign(s, campaign=c, as_of=day, now=night, all_campaigns=CAMPAIGNS)
    status = {r.customer_id: (r.status, r.reason) for r in plan.rows}
    assert young.customer_id not in status and len(status) == 40
    assert status["K000"] == ("excluded", "do_not_contact")
    assert status["K001"] == ("suppressed", "frequency_cap")
    held = {f"K{i:03d}" for i in range(2, 40) if in_holdout("seasonal", f"K{i:03d}", 10)}
    assert held and {k for k, v in status.items() if v[0] == "holdout"} == held
    assert plan.deferred == len(plan.by_status("to_contact")) == 38 - len(held)  # 22:00: tomorrow


# --- new-car care and the 7DC call ------------------------------------------------------


def test_new_car_care_text_names_the_first_service_and_is_sent_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    day = dt.date(2026, 11, 23)
    with Session(engine) as s:
        store = make_store(
            s, store_id="QZ", name="泉州店", phone="0595-22881234", address="刺桐路688号"
        )
        cid = next(f"N{i}" for i in range(50) if not in_holdout("new_car_care", f"N{i}", 10))
        c = make_customer(s, customer_id=cid, store_id=store.store_id)
        make_vehicle(s, customer=c, purchase_date=day - dt.timedelta(days=21), plate="闽C12345")
        s.commit()
    settings = settings_for(db_url, tmp_path)
    report = run(engine, settings, "new_car_care", day)
    assert report.plan["to_contact"] == 1
    text = Path(report.sms_file).read_text(encoding="utf-8")
    for part in (
        "2027年1月31日",
        "5,000 km",
        "刺桐路688号",
        "08:30–17:30",
        "行驶证",
        "0595-22881234",
    ):
        assert part in text, part
    nxt = run(engine, settings, "new_car_care", day + dt.timedelta(days=7))
    assert nxt.plan["suppressed"] == {"already_contacted": 1}  # day 28: the same delivery


def test_new_car_7dc_call_sheet(engine: Engine, db_url: str, tmp_path: Path) -> None:
    day = dt.date(2026, 11, 23)
    with Session(engine) as s:
        c = make_customer(s, name="林先生")
        make_vehicle(s, customer=c, purchase_date=day - dt.timedelta(days=7), model="奔腾B70")
        s.commit()
    settings = settings_for(db_url, tmp_path)
    report = run(engine, settings, "new_car_7dc", day)
    assert contacts(engine, "new_car_7dc") == {"listed": 1}
    html = next(Path(p) for p in report.call_lists if p.endswith(".html")).read_text("utf-8")
    assert "新车7日回访" in html and "2026年11月16日" in html and "奔腾B70" in html
    again = run(engine, settings, "new_car_7dc", day + dt.timedelta(days=1))
    assert again.plan["suppressed"] == {"already_contacted": 1}  # one call per delivery


# --- repeat repairs go to the service manager -------------------------------------------


def test_new_car_care_as_a_call_campaign(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """``channel: call`` turns the care message into a call with the shipped call sheets."""
    day = dt.date(2026, 11, 23)
    care = CAMPAIGNS["new_car_care"]
    as_call = care.model_copy(
        update={
            "channel": ChannelKind.CALL,
            "templates": {k: f"calls/new_car_care.{k}.j2" for k in ("zh", "en")},
            "frequency_cap": care.frequency_cap.model_copy(update={"max_sms": 1}),
            "holdout_pct": 0.0,
        }
    )
    with Session(engine) as s:
        make_vehicle(s, customer=make_customer(s), purchase_date=day - dt.timedelta(days=25))
        s.commit()
    report = run_campaign(
        engine, campaign=as_call, campaigns={**CAMPAIGNS, "new_car_care": as_call}, as_of=day,
        clock=pinned_clock(noon(day)), settings=settings_for(db_url, tmp_path),
    )  # fmt: skip
    html = next(Path(p) for p in report.call_lists if p.endswith(".html")).read_text("utf-8")
    assert "新车关怀" in html and "首次保养" in html and "08:30–17:30" in html


def repeat_repair_store(engine: Engine, day: dt.date) -> None:
    with Session(engine) as s:
        for store_id in ("QZ", "JJ"):
            store = make_store(s, store_id=store_id, name=f"{store_id}店")
            c = make_customer(s, store_id=store.store_id)
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2023, 3, 1))
            for back in (12, 1):
                make_visit(s, vehicle=v, date=day - dt.timedelta(days=back), type="repair",
                           advisor="陈明")  # fmt: skip
        s.commit()


def test_repeat_repair_call_lists_go_to_the_service_manager(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The advisor of the last visit would take a routine call; a comeback goes to the
    store's service manager, and a store without one gets its own manager list."""
    day = dt.date(2026, 11, 23)
    repeat_repair_store(engine, day)
    settings = settings_for(db_url, tmp_path, service_managers={"QZ": "王经理"})
    report = run(engine, settings, "repeat_repair", day)
    names = sorted(Path(p).name for p in report.call_lists if p.endswith(".csv"))
    assert names == [
        "repeat_repair_2026-11-23_service_manager_JJ.csv",
        "repeat_repair_2026-11-23_王经理.csv",
    ]
    html = next(Path(p) for p in report.call_lists if p.endswith("王经理.html")).read_text("utf-8")
    assert "服务经理" in html and html.count("<li>2026年11月") >= 2  # both repairs listed
    assert contacts(engine, "repeat_repair") == {"listed": 2}


def test_service_managers_setting_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("REVISIT_SERVICE_MANAGERS", '{"QZ": "王经理", "JJ": "李经理"}')
    assert Settings().service_managers == {"QZ": "王经理", "JJ": "李经理"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("王经理", "REVISIT_SERVICE_MANAGERS: not valid JSON"),
        ("[1, 2]", "REVISIT_SERVICE_MANAGERS: Input should be a valid dictionary"),
    ],
)
def test_a_bad_service_managers_setting_is_one_line(value: str, message: str) -> None:
    """Not JSON (the settings source fails) and JSON of the wrong shape (validation fails)."""
    result = CliRunner().invoke(app, ["campaign", "list"], env={"REVISIT_SERVICE_MANAGERS": value})
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("festival", FESTIVAL_DAY),
        ("seasonal", dt.date(2027, 5, 20)),
        ("new_car_care", dt.date(2027, 5, 20)),
        ("new_car_7dc", dt.date(2027, 5, 20)),
    ],
)
def test_previews_render_the_campaign_content(
    engine: Engine, db_url: str, tmp_path: Path, name: str, day: dt.date
) -> None:
    """Regression: a preview's samples, like a run, give templates the campaign file's
    occasion, offer and workshop hours (else the strict templates fail on them)."""
    with Session(engine) as s:
        for back in (8, 24):  # new cars
            c = make_customer(s, customer_id=f"P{back}")
            make_vehicle(s, customer=c, purchase_date=day - dt.timedelta(days=back))
        for i in range(5):  # regular customers: three-year-old cars serviced two months ago
            c = make_customer(s, customer_id=f"R{i}")
            car = make_vehicle(s, customer=c, purchase_date=day - dt.timedelta(days=3 * 365))
            make_visit(s, vehicle=car, date=day - dt.timedelta(days=60), type="maintenance")
        s.commit()
    result = preview(engine, settings_for(db_url, tmp_path), name=name, as_of=day,
                     now=noon(day), samples=3)  # fmt: skip
    assert result.samples, result.plan.summary()
    assert all("segment" in text or "call sheet" in text for _, text in result.samples)
