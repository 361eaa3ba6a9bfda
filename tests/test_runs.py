"""Campaign runs end to end: plan, render, outbox, send or call lists, re-runs, quiet hours."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from devtools.fake_twilio import FakeTwilio, serve_fake_twilio
from revisit.campaigns.config import load_campaigns
from revisit.cli import app
from revisit.entry import runs
from revisit.entry.runs import RunOptions, daily_campaigns, pinned_clock, run_campaign
from revisit.errors import TemplateError
from revisit.settings import Settings
from tests.factories import make_customer, make_store, make_vehicle, make_visit

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 23)
SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
NIGHT = dt.datetime(2026, 11, 23, 22, 30, tzinfo=SHANGHAI)
NO_TWILIO: dict[str, Any] = {
    "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None, "TWILIO_FROM": None,
    "TWILIO_MESSAGING_SERVICE_SID": None,
}  # fmt: skip


def settings_for(
    db_url: str, out: Path, templates: Path = ROOT / "templates", **kw: Any
) -> Settings:
    values: dict[str, Any] = NO_TWILIO | {
        "database_url": db_url, "campaigns_dir": ROOT / "campaigns",
        "templates_dir": templates, "output_dir": out,
    }  # fmt: skip
    return Settings(**(values | kw))


def dealership(engine: Engine, n_due: int = 6) -> None:
    """``n_due`` customers due for maintenance (one of them also back from the shop two
    days ago, so the follow-up call outranks the SMS), one without consent."""
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234",
                           callers="王芳;张伟")  # fmt: skip
        for i in range(n_due):
            c = make_customer(s, store_id=store.store_id, consent_sms=(i != 1))
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2022, 1, 10))
            make_visit(s, vehicle=v, date=dt.date(2026, 6, 1), type="maintenance", advisor="陈明")
            if i == 0:
                other = make_vehicle(s, customer=c, purchase_date=dt.date(2023, 3, 1))
                make_visit(s, vehicle=other, date=AS_OF - dt.timedelta(days=2), type="repair",
                           advisor="李娜")  # fmt: skip
        s.commit()


def contacts(engine: Engine, campaign: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*) FROM contacts WHERE campaign = :c GROUP BY status"),
            {"c": campaign},
        ).all()
    return {status: int(n) for status, n in rows}


def run(
    engine: Engine,
    settings: Settings,
    name: str,
    at: dt.datetime,
    *,
    wall: bool = False,
    **opts: Any,
) -> Any:
    """Run ``name`` with its clock pinned at ``at`` — and, with ``wall``, the wall clock too
    (a real send must follow the wall clock: tests inject one)."""
    campaigns = load_campaigns(settings.campaigns_dir)
    clock = pinned_clock(at)
    return run_campaign(
        engine, campaign=campaigns[name], campaigns=campaigns, as_of=AS_OF, clock=clock,
        settings=settings, options=RunOptions(**opts), wall_clock=clock if wall else None,
    )  # fmt: skip


def test_sms_run_sends_once_and_a_rerun_does_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    report = run(engine, settings, "maintenance_due", MORNING)
    plan = report.plan
    assert plan["targeted"] == 6
    assert plan["excluded"] == {"no_sms_consent": 1}
    assert plan["suppressed"] == {"lower_priority": 1}  # customer 0: the follow-up call wins
    assert plan["targeted"] == (
        sum(plan["excluded"].values()) + sum(plan["suppressed"].values())
        + plan["holdout"] + plan["to_contact"]
    )  # fmt: skip
    sent = plan["to_contact"]
    assert report.status == "done" and contacts(engine, "maintenance_due")["sent"] == sent
    lines = Path(report.sms_file).read_text(encoding="utf-8").splitlines()
    # The console channel receives no replies: the hint names the store's phone.
    assert len(lines) == sent and all("退订请致电0595-22881234" in line for line in lines)
    assert all("+86 139****" in line for line in lines)  # phones masked in the console output

    again = run(engine, settings, "maintenance_due", MORNING)
    assert again.resumed and again.status == "done"
    assert len(Path(report.sms_file).read_text(encoding="utf-8").splitlines()) == sent


def test_outside_quiet_hours_the_run_defers_then_resumes(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    night = run(engine, settings, "maintenance_due", NIGHT)
    assert night.status == "deferred"
    assert contacts(engine, "maintenance_due").get("sent", 0) == 0
    assert night.sms_file is None or not Path(night.sms_file).read_text(encoding="utf-8")
    morning = run(engine, settings, "maintenance_due", MORNING + dt.timedelta(days=1))
    assert morning.resumed and morning.status == "done"
    assert contacts(engine, "maintenance_due")["sent"] == night.plan["to_contact"]


def test_a_failing_template_writes_nothing(engine: Engine, db_url: str, tmp_path: Path) -> None:
    dealership(engine)
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    broken = templates / "sms" / "maintenance_due.zh.j2"
    broken.write_text("{{ customer.nickname }}您好", encoding="utf-8")
    settings = settings_for(db_url, tmp_path / "out", templates=templates)
    with pytest.raises(TemplateError, match=r"maintenance_due\.zh\.j2:1.*campaign maintenance_due"):
        run(engine, settings, "maintenance_due", MORNING)
    assert contacts(engine, "maintenance_due") == {}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM campaign_runs")).scalar_one() == 0


def test_a_template_failing_in_a_later_batch_writes_nothing_either(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "RENDER_CHUNK", 1)  # each customer is its own batch
    dealership(engine)
    settings = settings_for(db_url, tmp_path / "out")
    preview = run(engine, settings, "maintenance_due", MORNING, dry_run=True, samples=10)
    order = [cid for cid, _text in preview.samples]
    assert len(order) >= 3  # so that batches were written before the failing one
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    broken = templates / "sms" / "maintenance_due.zh.j2"
    broken.write_text(
        f"{{% if customer.customer_id == '{order[-1]}' %}}{{{{ customer.nickname }}}}"
        "{% endif %}您好",
        encoding="utf-8",
    )
    settings = settings_for(db_url, tmp_path / "out", templates=templates)
    with pytest.raises(TemplateError, match=f"customer {order[-1]}"):
        run(engine, settings, "maintenance_due", MORNING)
    assert contacts(engine, "maintenance_due") == {}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM campaign_runs")).scalar_one() == 0
    report = run(engine, settings_for(db_url, tmp_path / "out"), "maintenance_due", MORNING)
    assert [cid for cid, _text in report.samples] == order[:3]  # across batches
    assert sum(contacts(engine, "maintenance_due").values()) == report.plan["targeted"]


def test_call_campaign_writes_lists_and_marks_contacts_listed(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    report = run(engine, settings, "post_service_followup", MORNING)
    assert report.status == "done" and contacts(engine, "post_service_followup") == {"listed": 1}
    csvs = [Path(p) for p in report.call_lists if p.endswith(".csv")]
    assert [p.name for p in csvs] == ["post_service_followup_2026-11-23_王芳.csv"]
    # Staff need the real number (written for reading: 139 0001 3386), not a masked one.
    assert re.search(r",139 \d{4} \d{4},", csvs[0].read_text(encoding="utf-8-sig"))
    again = run(engine, settings, "post_service_followup", MORNING)
    assert again.resumed and again.call_lists == []


def test_daily_order_gives_the_customer_to_the_higher_priority_campaign(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    campaigns = load_campaigns(settings.campaigns_dir)
    for campaign in daily_campaigns(campaigns):
        run_campaign(
            engine, campaign=campaign, campaigns=campaigns, as_of=AS_OF,
            clock=pinned_clock(MORNING), settings=settings,
        )  # fmt: skip
    with engine.connect() as conn:
        per_customer = conn.execute(
            text(
                "SELECT customer_id, count(*) FROM contacts "
                "WHERE status IN ('sent', 'listed') GROUP BY customer_id HAVING count(*) > 1"
            )
        ).all()
    assert per_customer == []  # one contact per customer per day, across campaigns
    assert contacts(engine, "post_service_followup") == {"listed": 1}


def test_dry_run_writes_nothing(engine: Engine, db_url: str, tmp_path: Path) -> None:
    dealership(engine)
    report = run(engine, settings_for(db_url, tmp_path), "maintenance_due", MORNING, dry_run=True)
    assert report.status == "dry_run" and report.samples
    assert contacts(engine, "maintenance_due") == {}


def test_twilio_run_against_the_fake_provider(engine: Engine, db_url: str, tmp_path: Path) -> None:
    dealership(engine, n_due=12)
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        report = run(engine, settings, "maintenance_due", MORNING, wall=True, rate=50)
        run(engine, settings, "maintenance_due", MORNING, wall=True, rate=50, concurrency=4)
        assert report.dispatch["sent"] == report.plan["to_contact"] > 0
        assert fake.fake.duplicates() == {}
        assert len(fake.fake.per_phone()) == report.plan["to_contact"]


def test_cli_campaign_run_json(engine: Engine, db_url: str, tmp_path: Path) -> None:
    dealership(engine)
    env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_OUTPUT_DIR": str(tmp_path),
           "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
           "REVISIT_TEMPLATES_DIR": str(ROOT / "templates")}  # fmt: skip
    env |= {k: "" for k in NO_TWILIO}
    args = ["campaign", "run", "maintenance_due", "--as-of", "2026-11-23",
            "--now", "2026-11-23T10:00", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert '"status": "done"' in result.output
    unknown = CliRunner().invoke(app, ["campaign", "run", "nope"], env=env)
    assert unknown.exit_code == 2 and "unknown campaign 'nope'" in unknown.output


def test_every_console_message_is_recorded(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """Regression: each console run numbered its messages from 1, so the messages of a second
    run collided with the first's provider ids and were not recorded."""
    dealership(engine, n_due=8)
    with Session(engine) as s:
        for _ in range(3):
            make_customer(s, birthday=dt.date(1990, 11, 23))
        s.commit()
    settings = settings_for(db_url, tmp_path)
    sent = 0
    for name in ("maintenance_due", "post_service_followup", "birthday"):
        report = run(engine, settings, name, MORNING)
        sent += report.dispatch.get("sent", 0)
    assert sent > 5  # two SMS runs sent messages
    second = run(engine, settings, "first_service_due", MORNING)
    with engine.connect() as conn:
        messages = conn.execute(text("SELECT count(*) FROM messages")).scalar_one()
        contacts_sent = conn.execute(
            text("SELECT count(*) FROM contacts WHERE status = 'sent'")
        ).scalar_one()
    assert messages == contacts_sent == sent + second.dispatch.get("sent", 0)
