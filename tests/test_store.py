from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect
from sqlmodel import Session, select

from revisit.settings import DEFAULT_STORE_ID
from revisit.store import Store, Vehicle, Visit, open_engine
from tests.factories import make_customer, make_vehicle, make_visit


def test_schema_has_every_table(engine) -> None:
    names = set(inspect(engine).get_table_names())
    expected = {
        "stores",
        "customers",
        "vehicles",
        "visits",
        "policies",
        "upsell_items",
        "campaigns",
        "campaign_runs",
        "contacts",
        "messages",
        "outcomes",
        "opt_outs",
        "audit",
    }
    assert expected <= names


def test_default_store_exists(engine) -> None:
    with Session(engine) as s:
        store = s.get(Store, DEFAULT_STORE_ID)
        assert store is not None
        assert store.timezone == "Asia/Shanghai"


def test_open_engine_is_idempotent(db_url) -> None:
    open_engine(db_url).dispose()
    engine = open_engine(db_url)
    with Session(engine) as s:
        assert len(s.exec(select(Store)).all()) == 1
    engine.dispose()


def test_rows_round_trip_dates(engine) -> None:
    with Session(engine) as s:
        v = make_vehicle(s, customer=make_customer(s), purchase_date=dt.date(2024, 2, 29))
        make_visit(s, vehicle=v, date=dt.date(2024, 5, 31), mileage_km=5000)
        s.commit()
    with Session(engine) as s:
        assert s.exec(select(Vehicle)).one().purchase_date == dt.date(2024, 2, 29)
        assert s.exec(select(Visit)).one().date == dt.date(2024, 5, 31)
