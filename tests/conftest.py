"""Every database test runs on SQLite, and on PostgreSQL too when REVISIT_TEST_PG_URL is set.

Use the ``db_url`` fixture for a migrated, empty database (with its default store) and
``engine`` for an engine on it. SQLite databases are copies of one migrated template;
PostgreSQL is migrated once per session and truncated before every test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from revisit.db.engine import create_db_engine, upgrade_schema

PG_URL = os.environ.get("REVISIT_TEST_PG_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[Engine]:
    assert PG_URL
    engine = create_db_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def _truncate_pg(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    upgrade_schema(engine)  # puts the default store back


@pytest.fixture(autouse=True)
def _fresh_factory_ids() -> None:
    """Factory ids start over in every test: a test's holdout members do not depend on the
    tests that ran before it."""
    from tests.factories import reset_ids

    reset_ids()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database (SQLite file or the test PostgreSQL)."""
    if request.param == "sqlite":
        path = tmp_path / "revisit.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    engine = request.getfixturevalue("_pg_engine")
    _truncate_pg(engine)
    assert PG_URL
    return PG_URL


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_db_engine(db_url)
    yield eng
    eng.dispose()
