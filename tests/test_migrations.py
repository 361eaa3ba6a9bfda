"""Schema migrations over data written by an older revisit, on SQLite and PostgreSQL: each
database starts empty (a SQLite file, or a schema of its own on the test PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from revisit.db.engine import MIGRATIONS_DIR, create_db_engine, migrating, normalise_url
from tests.conftest import BACKENDS, PG_URL


@pytest.fixture(params=BACKENDS)
def bare_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database without any schema."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    assert PG_URL
    schema = f"migration_{uuid.uuid4().hex[:8]}"
    admin = create_db_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = normalise_url(PG_URL)
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def _migrator(engine: Engine) -> Callable[[Callable[..., Any], str], None]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))

    def migrate(step: Callable[..., Any], target: str) -> None:
        with engine.connect() as conn, migrating(conn):
            cfg.attributes["connection"] = conn
            step(cfg, target)

    return migrate


OLD_ROWS = [
    "stores (store_id, name, timezone) VALUES ('S1', 'One', 'Asia/Shanghai')",
    "customers (customer_id, name, phone_invalid, store_id, consent_sms, language) "
    "VALUES ('C1', '张伟', true, 'S1', true, 'zh'), ('C2', '李娜', false, 'S1', true, 'zh')",
    "campaigns (name, cohort, channel, priority, definition, updated_at) "
    "VALUES ('m', 'maintenance_due', 'sms', 50, '{}', '2026-11-23 02:00:00+00')",
    "campaign_runs (campaign, as_of, status, dry_run, started_at, counts) "
    "VALUES ('m', '2026-11-23', 'done', false, '2026-11-23 02:00:00+00', '{}')",
    "contacts (run_id, campaign, as_of, customer_id, vins, channel, priority, status, reason,"
    " attempts, created_at) VALUES "
    "(1, 'm', '2026-11-23', 'C1', '[]', 'sms', 50, 'excluded', 'phone_invalid', 0, "
    "'2026-11-23 02:00:00+00'), "
    "(1, 'm', '2026-11-23', 'C2', '[]', 'sms', 50, 'excluded', 'no_sms_consent', 0, "
    "'2026-11-23 02:00:00+00')",
]


def test_contacts_migrate_to_invalid_phone_and_details(bare_engine: Engine) -> None:
    """0006 renames the dispatcher's ``phone_invalid`` reason to ``invalid_phone``; 0007
    adds the contacts' details (none for rows written before)."""
    migrate = _migrator(bare_engine)
    migrate(command.upgrade, "0005")
    with bare_engine.begin() as conn:
        for row in OLD_ROWS:
            conn.exec_driver_sql(f"INSERT INTO {row}")
    migrate(command.upgrade, "head")
    with bare_engine.connect() as conn:
        rows = conn.execute(text("SELECT customer_id, reason, details FROM contacts ORDER BY 1"))
        assert rows.all() == [("C1", "invalid_phone", None), ("C2", "no_sms_consent", None)]
    migrate(command.downgrade, "0005")
    with bare_engine.connect() as conn:
        assert "details" not in {c["name"] for c in inspect(conn).get_columns("contacts")}
        reasons = conn.execute(text("SELECT reason FROM contacts ORDER BY customer_id"))
        assert reasons.scalars().all() == ["invalid_phone", "no_sms_consent"]
