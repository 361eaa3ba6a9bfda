"""The dealership overview printed by `make demo` and `revisit overview`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from revisit.cli import app
from revisit.dms.overview import dealership_overview
from tests.factories import make_customer, make_store, make_vehicle, make_visit

AS_OF = dt.date(2026, 8, 31)


def _dealership(engine: Engine) -> None:
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店")
        seen = {  # customer → latest visit, months before as_of (None: never visited)
            "recent": dt.date(2026, 8, 1),
            "six": dt.date(2026, 2, 28),  # 31 Aug − 6 months clamps to 28 Feb: exactly 6
            "almost_six": dt.date(2026, 3, 1),
            "twelve": dt.date(2025, 8, 31),
            "thirty": dt.date(2024, 2, 1),
        }
        for name, day in seen.items():
            c = make_customer(s, customer_id=name, store_id=store.store_id)
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2020, 1, 1))
            make_visit(s, vehicle=v, date=day)
            make_visit(s, vehicle=v, date=AS_OF + dt.timedelta(days=3))  # after as_of: ignored
        never = make_customer(s, customer_id="never", store_id=store.store_id)
        make_vehicle(s, customer=never, purchase_date=dt.date(2026, 7, 1))
        gone = make_customer(s, customer_id="gone", store_id=store.store_id)
        make_vehicle(s, customer=gone, status="sold", purchase_date=dt.date(2019, 1, 1))
        s.commit()


def test_overview_counts_lapses_with_calendar_months(engine: Engine) -> None:
    _dealership(engine)
    with engine.connect() as conn:
        facts = dealership_overview(conn, as_of=AS_OF)
    (store,) = facts.stores
    assert (store.store_id, store.customers, store.active_vehicles) == ("QZ", 6, 6)
    assert store.not_seen == {6: 3, 12: 2, 24: 1}
    assert facts.vehicle_status == {"active": 6, "sold": 1}
    assert facts.rows["visits"] == 10
    months = dict(facts.visits_per_month)
    assert len(months) == 12 and months["2026-08"] == 1 and months["2026-03"] == 1
    assert "2026-09" not in months


def test_overview_cli_json(db_url: str, engine: Engine) -> None:
    _dealership(engine)
    result = CliRunner().invoke(
        app,
        ["overview", "--as-of", "2026-08-31", "--format", "json"],
        env={"REVISIT_DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    assert '"12_months": 2' in result.output
