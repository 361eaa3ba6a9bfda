from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect
from sqlmodel import Session, select

from revisit.db.tables import Store, Vehicle, Visit
from revisit.entry.engine import open_engine
from revisit.settings import DEFAULT_STORE_ID
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


def test_sqlite_migration_keeps_rows_when_tables_are_rebuilt(tmp_path) -> None:
    """Migration 0004 rebuilds customers and vehicles WITHOUT ROWID on SQLite: a database
    with data at 0003 keeps every row, reference and index, and downgrades back."""
    from alembic import command
    from alembic.config import Config

    from revisit.db.engine import (
        MIGRATIONS_DIR,
        create_db_engine,
        migrating,
        secondary_indexes,
        upgrade_schema,
    )
    from revisit.dms.visit_summary import summary_current_for
    from revisit.entry.engine import summarise_if_stale

    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))

    def migrate(step, target: str) -> None:
        with engine.connect() as conn, migrating(conn):
            cfg.attributes["connection"] = conn
            step(cfg, target)

    def storage() -> dict[str, bool]:
        with engine.connect() as conn:
            sql = dict(
                conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                ).all()
            )
        return {t: sql[t].rstrip().endswith("WITHOUT ROWID") for t in ("customers", "vehicles")}

    migrate(command.upgrade, "0003")
    rows = [
        "stores (store_id, name, timezone) VALUES ('S1', 'One', 'Asia/Shanghai')",
        "customers (customer_id, name, phone_invalid, store_id, consent_sms, language) "
        "VALUES ('C1', '张伟', 0, 'S1', 1, 'zh')",
        "vehicles (vin, customer_id, purchase_date, status) "
        "VALUES ('V1', 'C1', '2020-01-01', 'active')",
        "visits (visit_id, vin, date, type) VALUES ('R1', 'V1', '2020-06-01', 'maintenance')",
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.exec_driver_sql(f"INSERT INTO {row}")
    assert storage() == {"customers": False, "vehicles": False}
    upgrade_schema(engine, after_migration=summarise_if_stale)  # as open_engine does
    assert storage() == {"customers": True, "vehicles": True}
    with engine.connect() as conn:  # and the visit summary is built for the data there
        assert summary_current_for(conn, dt.date(2020, 6, 1))
    with engine.connect() as conn:
        joined = "visits JOIN vehicles v USING (vin) JOIN customers c USING (customer_id)"
        assert conn.exec_driver_sql(f"SELECT v.vin, c.name FROM {joined}").all() == [("V1", "张伟")]
        for table in ("customers", "vehicles"):
            present = {ix["name"] for ix in inspect(conn).get_indexes(table)}
            assert {ix.name for ix in secondary_indexes(table)} <= present
    migrate(command.downgrade, "0003")
    assert storage() == {"customers": False, "vehicles": False}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM vehicles").scalar_one() == 1
    engine.dispose()
