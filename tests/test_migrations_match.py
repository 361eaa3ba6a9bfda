"""The migrated schema is exactly the tables' declaration (SQLite and PostgreSQL): a column,
table or index added to ``revisit/db/tables.py`` without its migration fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import revisit.db.tables  # noqa: F401  (registers every table)


def test_migrations_build_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
