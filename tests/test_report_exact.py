"""Acceptance: after an SMS run against the fake Twilio and visits imported inside and
outside the window, the JSON report's returns equal what the provider's log and the holdout
imply; and the report commands' formats."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from devtools.fake_twilio import FakeConfig, FakeTwilio, serve_fake_twilio
from revisit.campaigns.config import load_campaigns
from revisit.cli import app
from revisit.cli.report import lift_text
from revisit.db.tables import CONTACTS, CUSTOMERS, VEHICLES
from tests.factories import make_customer, make_store, make_vehicle, make_visit
from tests.outcome_support import make_campaign_run
from tests.test_runs import AS_OF, MORNING, ROOT, run

N = 60


def due_customers(engine: Engine) -> None:
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234")
        for _ in range(N):
            c = make_customer(s, store_id=store.store_id)
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2022, 1, 10))
            make_visit(s, vehicle=v, date=dt.date(2026, 6, 1), type="maintenance")
        s.commit()


def write_visits(path: Path, engine: Engine, days: int) -> dict[str, int]:
    """Every third customer comes back inside the window, every third just after it; the
    rest do not. Returns phone → offset (days after the run) of the customers who came."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CUSTOMERS.c.phone, VEHICLES.c.vin)
            .join(VEHICLES, VEHICLES.c.customer_id == CUSTOMERS.c.customer_id)
            .where(CUSTOMERS.c.store_id == "QZ")
            .order_by(CUSTOMERS.c.customer_id)
        ).all()
    came: dict[str, int] = {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["visit_id", "vin", "date", "type", "amount"])
        for i, (phone, vin) in enumerate(rows):
            offset = {0: i % days, 1: days + 1 + i % 5}.get(i % 3)
            if offset is None:
                continue
            day = AS_OF + dt.timedelta(days=offset)
            out.writerow([f"BACK{i:04d}", vin, day.isoformat(), "maintenance", "300"])
            came[phone] = offset
    return came


def test_returns_equal_what_the_provider_log_and_holdout_imply(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    due_customers(engine)
    refused = {"+8613900000000"}  # not one of ours: the fake refuses nobody we know
    days = load_campaigns(ROOT / "campaigns")["maintenance_due"].attribution_days
    config = FakeConfig(error_numbers=dict.fromkeys(refused, 21211))
    with serve_fake_twilio(FakeTwilio(config)) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        report = run(
            engine, settings, "maintenance_due", MORNING, wall=True, rate=200, concurrency=4
        )
        accepted = {m.to for m in fake.fake.snapshot()}
    assert report.status == "done"
    with engine.connect() as conn:
        holdout_phones = set(
            conn.execute(
                select(CUSTOMERS.c.phone)
                .join(CONTACTS, CONTACTS.c.customer_id == CUSTOMERS.c.customer_id)
                .where(CONTACTS.c.status == "holdout")
            ).scalars()
        )
    assert holdout_phones and accepted
    came = write_visits(tmp_path / "visits.csv", engine, days)
    env = {"REVISIT_DATABASE_URL": db_url}
    imported = CliRunner().invoke(app, ["import", str(tmp_path / "visits.csv")], env=env)
    assert imported.exit_code == 0, imported.output
    result = CliRunner().invoke(
        app, ["report", "--campaign", "maintenance_due", "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    inside = {p for p, offset in came.items() if offset <= days}
    assert row["contacted"] == len(accepted)
    assert row["returned"] == len(accepted & inside)
    assert row["return_rate"] == len(accepted & inside) / len(accepted)
    assert row["holdout"] == len(holdout_phones)
    assert row["holdout_returned"] == len(holdout_phones & inside)
    assert row["holdout_return_rate"] == len(holdout_phones & inside) / len(holdout_phones)
    assert row["revenue"] == 300.0 * len(accepted & inside)


def test_report_formats_and_bad_options(engine: Engine, db_url: str, tmp_path: Path) -> None:
    make_campaign_run(engine, ["sent", "sent", "holdout", "holdout"])
    env = {"REVISIT_DATABASE_URL": db_url}
    out = tmp_path / "r.csv"
    csv_run = CliRunner().invoke(app, ["report", "--format", "csv", "--output", str(out)], env=env)
    assert csv_run.exit_code == 0, csv_run.output
    assert out.read_text(encoding="utf-8-sig").startswith("campaign,cohort,channel,run_id")
    table = CliRunner().invoke(app, ["report"], env=env)
    assert table.exit_code == 0 and "Did the campaigns bring them back?" in table.output
    none = {"lift": 0.0, "lift_ci_low": -0.6, "lift_ci_high": 0.6}
    assert lift_text(none) == "+0.0% [-60.0, +60.0] not yet significant"
    assert lift_text(none | {"lift": 0.2, "lift_ci_low": 0.05}) == "+20.0% [+5.0, +60.0]"
    bad = CliRunner().invoke(app, ["report", "--by", "colour"], env=env)
    assert bad.exit_code == 2 and "--by: unknown breakdown 'colour'" in bad.output
    fmt = CliRunner().invoke(app, ["report", "upsell", "--format", "xml"], env=env)
    assert fmt.exit_code == 2 and "--format: unknown format 'xml'" in fmt.output
    for sub in ("churn", "staff", "upsell"):
        done = CliRunner().invoke(app, ["report", sub, "--format", "json"], env=env)
        assert done.exit_code == 0, done.output
        assert isinstance(json.loads(done.output), list)
