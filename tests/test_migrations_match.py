"""The migrated schema is exactly the tables' declaration (SQLite and PostgreSQL): a column,
table or index added to ``revisit/db/tables.py`` without its migration fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import revisit.db.tables  # noqa: F401  (registers every table)

# SQLite cannot add a foreign key to an existing table short of rebuilding it, so a column
# added by ALTER TABLE keeps its reference in the model only (PostgreSQL has it for real).
SQLITE_ALTER_FKS = {("contacts", "callback_of")}


def _tolerated(engine: Engine, item: Any) -> bool:
    if engine.dialect.name != "sqlite" or not isinstance(item, tuple) or item[0] != "add_fk":
        return False
    fk = item[1]
    return {(fk.table.name, c.name) for c in fk.columns} <= SQLITE_ALTER_FKS


def test_migrations_build_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diff if not _tolerated(engine, d)] == []
