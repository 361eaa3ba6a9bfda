"""SQLite: customers and vehicles clustered by their ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 03:55:00

A cohort joins its members to their vehicle and customer by id. In a rowid table that is
two B-tree searches (the id's index, then the row); in a WITHOUT ROWID table the row sits
in the id's own B-tree, one search. Nothing changes on PostgreSQL.

SQLite cannot alter a table's storage, so each table is rebuilt: created anew, filled,
the old one dropped and the new one renamed, its indexes recreated. Foreign keys must be
off while the parent table is dropped; :func:`revisit.db.engine.upgrade_schema` runs SQLite
migrations that way.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customers", "vehicles")


def _rebuild(table: str, *, with_rowid: bool) -> None:
    bind = op.get_bind()
    master = "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type = ?"
    create = bind.exec_driver_sql(master, (table, "table")).scalar_one()
    if create.rstrip().upper().endswith("WITHOUT ROWID") != with_rowid:
        return  # already so
    indexes = [s for (s,) in bind.exec_driver_sql(master, (table, "index")) if s]
    columns = create[create.index("(") :].rstrip()  # after the name, quoted or not
    if with_rowid:
        columns = columns[: -len("WITHOUT ROWID")].rstrip()
    else:
        columns += " WITHOUT ROWID"
    bind.exec_driver_sql(f"CREATE TABLE _new_{table} {columns}")
    bind.exec_driver_sql(f"INSERT INTO _new_{table} SELECT * FROM {table}")
    bind.exec_driver_sql(f"DROP TABLE {table}")
    bind.exec_driver_sql(f"ALTER TABLE _new_{table} RENAME TO {table}")
    for index in indexes:
        bind.exec_driver_sql(index)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild(table, with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild(table, with_rowid=True)
