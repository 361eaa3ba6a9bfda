"""Contact rules and campaign planning, each rule on its own, then whole plans and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from revisit.campaigns import plan as planning
from revisit.campaigns import rules
from revisit.campaigns.config import CampaignDef, load_campaigns
from revisit.campaigns.plan import plan_campaign
from revisit.campaigns.rules import channel_exclusion, in_holdout
from revisit.campaigns.window import SendWindow, next_send_time, within_send_window
from revisit.cli import app
from revisit.cohorts.select import CohortMember
from revisit.db.engine import create_db_engine
from revisit.db.tables import Campaign, CampaignRun, Contact, OptOut
from tests.factories import make_customer, make_store, make_vehicle

SHIPPED = Path(__file__).parent.parent / "campaigns"
D = dt.date
SH = "Asia/Shanghai"
WINDOW = SendWindow()
AS_OF = D(2024, 4, 20)  # purchase 2024-01-31 → first service due 2024-04-30


def member(**kw) -> CohortMember:
    base = {
        "cohort": "x",
        "customer_id": "C1",
        "vin": "V1",
        "store_id": "default",
        "phone": "+8613900000001",
        "phone_type": "mobile",
    }
    return CohortMember(**(base | kw))


@pytest.mark.parametrize(
    ("kw", "sms", "call"),
    [
        ({}, None, None),
        ({"phone": None}, "no_phone", "no_phone"),
        ({"phone_invalid": True}, "invalid_phone", "invalid_phone"),
        ({"phone_type": "landline"}, "not_mobile", None),
        ({"consent_sms": False}, "no_sms_consent", None),
    ],
)
def test_channel_exclusions(kw, sms, call) -> None:
    assert channel_exclusion(member(**kw), "sms") == sms
    assert channel_exclusion(member(**kw), "call") == call


def test_reachable_customers_agree_with_the_channel_rule(engine) -> None:
    """The SQL form of the channel exclusions finds the customers the pure rule passes."""
    all_c = campaigns()
    cases = [
        {},
        {"phone": None},
        {"phone": ""},
        {"phone_invalid": True},
        {"phone_type": "landline"},
        {"consent_sms": False},
        {"phone_type": "landline", "consent_sms": False},
    ]
    with Session(engine, expire_on_commit=False) as s:
        members = []
        for kw in cases:
            c = first_service_customer(s, **kw)
            members.append(member(customer_id=c.customer_id, **kw))
        s.commit()
        for name in ("first_service_due", "post_service_followup"):
            campaign = all_c[name].model_copy(update={"channel": "call"})
            for channel in ("sms", "call"):
                campaign = campaign.model_copy(update={"channel": channel})
                if name == "post_service_followup":  # an empty cohort reaches nobody
                    assert rules.reachable_customers(s, campaign=campaign, as_of=AS_OF) == set()
                    continue
                want = {m.customer_id for m in members if channel_exclusion(m, channel) is None}
                got = rules.reachable_customers(s, campaign=campaign, as_of=AS_OF)
                assert got == want, channel
                some = {members[0].customer_id, members[1].customer_id}
                got = rules.reachable_customers(s, campaign=campaign, as_of=AS_OF, among=some)
                assert got == want & some


def test_holdout_is_deterministic_and_near_its_share() -> None:
    picks = [in_holdout("lapsed_12_24", f"C{i}", 10) for i in range(20000)]
    assert picks == [in_holdout("lapsed_12_24", f"C{i}", 10) for i in range(20000)]
    assert 0.09 < sum(picks) / len(picks) < 0.11
    assert not any(in_holdout("lapsed_12_24", f"C{i}", 0) for i in range(1000))
    assert picks != [in_holdout("birthday", f"C{i}", 10) for i in range(20000)]


@pytest.mark.parametrize(
    ("utc", "inside", "send"),
    [
        (dt.datetime(2024, 3, 1, 0, 59), False, dt.datetime(2024, 3, 1, 9, 0)),  # 08:59 local
        (dt.datetime(2024, 3, 1, 1, 0), True, dt.datetime(2024, 3, 1, 9, 0)),  # 09:00 local
        (dt.datetime(2024, 3, 1, 11, 59), True, dt.datetime(2024, 3, 1, 19, 59)),
        (dt.datetime(2024, 3, 1, 12, 0), False, dt.datetime(2024, 3, 2, 9, 0)),  # 20:00 local
        (dt.datetime(2024, 2, 29, 17, 0), False, dt.datetime(2024, 3, 1, 9, 0)),  # 01:00 local
    ],
)
def test_quiet_hours_in_store_time(utc, inside, send) -> None:
    now = utc.replace(tzinfo=dt.UTC)
    assert within_send_window(now, SH, WINDOW) is inside
    assert next_send_time(now, SH, WINDOW) == send.replace(tzinfo=ZoneInfo(SH))


def campaigns() -> dict[str, CampaignDef]:
    """The shipped campaigns without holdout, so every case has one possible outcome."""
    return {n: c.model_copy(update={"holdout_pct": 0}) for n, c in load_campaigns(SHIPPED).items()}


def first_service_customer(s: Session, **kw):
    c = make_customer(s, **kw)
    make_vehicle(s, customer=c, purchase_date=D(2024, 1, 31))
    return c


def add_contact(
    s: Session,
    customer_id: str,
    *,
    campaign: str,
    as_of: dt.date,
    priority=0,
    status="sent",
    channel="sms",
) -> None:
    run = CampaignRun(campaign=campaign, as_of=as_of)
    if s.get(Campaign, campaign) is None:
        s.add(Campaign(name=campaign, cohort=campaign, channel=channel, priority=priority))
    s.add(run)
    s.flush()
    s.add(
        Contact(
            run_id=run.id,
            campaign=campaign,
            as_of=as_of,
            customer_id=customer_id,
            channel=channel,
            priority=priority,
            status=status,
        )
    )


NOON = dt.datetime(2024, 4, 20, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


def test_plan_statuses_and_numbers_add_up(engine) -> None:
    all_c = campaigns()
    fs = all_c["first_service_due"]
    with Session(engine, expire_on_commit=False) as s:
        ok = first_service_customer(s)
        two = first_service_customer(s)
        make_vehicle(s, customer=two, purchase_date=D(2024, 2, 1))
        sold_only = make_customer(s)
        make_vehicle(s, customer=sold_only, purchase_date=D(2024, 1, 31), status="sold")
        dnc = first_service_customer(s)
        s.add(OptOut(customer_id=dnc.customer_id, source="reply"))
        landline = first_service_customer(s, phone="+862112345678", phone_type="landline")
        no_consent = first_service_customer(s, consent_sms=False)
        capped = first_service_customer(s)
        add_contact(s, capped.customer_id, campaign="birthday", as_of=AS_OF - dt.timedelta(days=6))
        old = first_service_customer(s)
        add_contact(s, old.customer_id, campaign="birthday", as_of=AS_OF - dt.timedelta(days=7))
        higher = first_service_customer(s)
        add_contact(
            s,
            higher.customer_id,
            campaign="insurance_renewal",
            as_of=AS_OF,
            priority=80,
            status="pending",
        )
        s.commit()
        plan = plan_campaign(s, campaign=fs, as_of=AS_OF, now=NOON, all_campaigns=all_c)
    by_customer = {r.customer_id: (r.status, r.reason) for r in plan.rows}
    assert by_customer[ok.customer_id] == ("to_contact", None)
    assert by_customer[two.customer_id] == ("to_contact", None)
    assert len(next(r for r in plan.rows if r.customer_id == two.customer_id).vins) == 2
    assert by_customer[sold_only.customer_id] == ("excluded", "vehicle_sold")
    assert by_customer[dnc.customer_id] == ("excluded", "do_not_contact")
    assert by_customer[landline.customer_id] == ("excluded", "not_mobile")
    assert by_customer[no_consent.customer_id] == ("excluded", "no_sms_consent")
    assert by_customer[capped.customer_id] == ("suppressed", "frequency_cap")
    assert by_customer[old.customer_id] == ("to_contact", None)
    assert by_customer[higher.customer_id] == ("suppressed", "lower_priority")
    summary = plan.summary()
    parts = summary["to_contact"] + summary["holdout"]
    parts += sum(summary["excluded"].values()) + sum(summary["suppressed"].values())
    assert parts == summary["targeted"] == 9
    assert summary["deferred"] == 0


def test_higher_priority_daily_campaign_wins_the_day(engine) -> None:
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        c = first_service_customer(s, birthday=D(1980, 4, 20))
        s.commit()
        birthday = plan_campaign(
            s, campaign=all_c["birthday"], as_of=AS_OF, now=NOON, all_campaigns=all_c
        )
        first = plan_campaign(
            s, campaign=all_c["first_service_due"], as_of=AS_OF, now=NOON, all_campaigns=all_c
        )
    assert [(r.customer_id, r.status, r.reason) for r in birthday.rows] == [
        (c.customer_id, "suppressed", "lower_priority")
    ]
    assert [r.status for r in first.rows] == ["to_contact"]


@pytest.mark.parametrize("narrow", [0, 10_000])
def test_plans_of_one_pass_share_the_competitors_they_select(engine, monkeypatch, narrow) -> None:
    """An overview or a daily run passes one reach cache: each higher-ranked daily cohort
    is selected once (or, for a small campaign, asked about its own customers only), and
    the plans come out as they would alone."""
    monkeypatch.setattr(planning, "NARROW_LOOKUP", narrow)
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        first_service_customer(s, birthday=D(1980, 4, 20))
        make_vehicle(
            s, customer=make_customer(s, birthday=D(1981, 4, 20)), purchase_date=D(2020, 1, 1)
        )
        s.commit()
        alone = [
            plan_campaign(s, campaign=all_c[n], as_of=AS_OF, now=NOON, all_campaigns=all_c)
            for n in ("birthday", "lapsed_6_12")
        ]
        reach: dict = {}
        shared = [
            plan_campaign(
                s, campaign=all_c[n], as_of=AS_OF, now=NOON, all_campaigns=all_c, reach=reach
            )
            for n in ("birthday", "lapsed_6_12")
        ]
    assert [p.rows for p in shared] == [p.rows for p in alone]
    assert sorted((r.status, r.reason) for r in alone[0].rows) == [
        ("suppressed", "lower_priority"),  # due for a first service
        ("to_contact", None),  # only a birthday today
    ]
    if narrow:
        assert reach == {}
    else:
        higher = {c.name for c in all_c.values() if c.schedule == "daily" and c.priority > 10}
        assert {name for name, _ in reach} == higher | {f"{n}\x1fphone" for n in higher}
        assert reach[("first_service_due\x1fphone", AS_OF)]  # and that customer's phone
        assert reach[("first_service_due", AS_OF)]  # the birthday customer's first service


def test_lapsed_recontact_window(engine) -> None:
    all_c = campaigns()
    as_of = D(2024, 8, 31)
    with Session(engine, expire_on_commit=False) as s:
        recent, older = make_customer(s), make_customer(s)
        for c in (recent, older):
            make_vehicle(s, customer=c, purchase_date=D(2023, 6, 1))
        add_contact(
            s, recent.customer_id, campaign="lapsed_6_12", as_of=as_of - dt.timedelta(days=29)
        )
        add_contact(
            s, older.customer_id, campaign="lapsed_6_12", as_of=as_of - dt.timedelta(days=30)
        )
        s.commit()
        plan = plan_campaign(s, campaign=all_c["lapsed_12_24"], as_of=as_of, now=NOON)
    got = {r.customer_id: r.reason for r in plan.rows if r.status != "holdout"}
    assert got[recent.customer_id] == "recontact_window"
    assert older.customer_id not in got or got[older.customer_id] is None


def test_outside_quiet_hours_defers(engine) -> None:
    late = dt.datetime(2024, 4, 20, 13, 0, tzinfo=dt.UTC)  # 21:00 in Shanghai
    with Session(engine, expire_on_commit=False) as s:
        first_service_customer(s)
        s.commit()
        plan = plan_campaign(s, campaign=campaigns()["first_service_due"], as_of=AS_OF, now=late)
    (row,) = plan.rows
    assert row.status == "to_contact" and plan.deferred == 1
    assert row.send_at == dt.datetime(2024, 4, 21, 9, 0, tzinfo=ZoneInfo(SH))


def test_quiet_hours_follow_the_store_time_zone(engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        london = make_store(s, timezone="Europe/London").store_id
        first_service_customer(s, store_id=london)
        first_service_customer(s)
        s.commit()
        plan = plan_campaign(s, campaign=campaigns()["first_service_due"], as_of=AS_OF, now=NOON)
    sends = {r.store_id: r.send_at for r in plan.rows}
    assert sends["default"] == NOON  # 12:00 in Shanghai
    assert sends[london] == dt.datetime(2024, 4, 20, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    assert plan.deferred == 1


def test_cli_cohort_and_preview(db_url, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        customer_id = first_service_customer(s).customer_id
        s.commit()
    engine.dispose()
    for path in SHIPPED.glob("*.yaml"):  # no holdout: the one customer is contacted
        (tmp_path / path.name).write_text(
            path.read_text().replace("holdout_pct: 10", "holdout_pct: 0")
        )
    env = {
        "REVISIT_DATABASE_URL": db_url,
        "REVISIT_CAMPAIGNS_DIR": str(tmp_path),
        "REVISIT_TEMPLATES_DIR": str(SHIPPED.parent / "templates"),
        "COLUMNS": "160",
    }
    runner = CliRunner()
    out = runner.invoke(
        app, ["cohort", "first_service_due", "--as-of", "2024-04-20", "--format", "json"], env=env
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["customer_id"] for r in rows] == [customer_id] and rows[0]["vin"]
    out = runner.invoke(
        app, ["cohort", "first_service_due", "--as-of", "2024-04-20", "--format", "csv"], env=env
    )
    assert out.stdout.splitlines()[0].startswith("customer_id,vin")
    out = runner.invoke(
        app,
        ["campaign", "preview", "first_service_due", "--as-of", "2024-04-20", "--json"],
        env=env,
    )
    assert out.exit_code == 0, out.output
    preview = json.loads(out.stdout)
    assert preview["targeted"] == 1 and preview["to_contact"] == 1
    assert [s["customer_id"] for s in preview["samples"]] == [customer_id]
    assert preview["samples"][0]["text"]
    out = runner.invoke(app, ["campaign", "list"], env=env)
    assert out.exit_code == 0 and "lapsed_12_24" in out.stdout
    out = runner.invoke(app, ["cohort", "nobody"], env=env)
    assert out.exit_code != 0


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (["cohort"], ["campaign"], ["campaign", "list"], ["campaign", "preview"]):
        out = runner.invoke(app, [*args, "--help"])
        assert out.exit_code == 0 and len(out.stdout) > 80
