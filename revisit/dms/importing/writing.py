"""Writing parsed rows: an upsert keyed by the file's id, thousands of rows a statement.

SQLite takes the rows through ``executemany`` of ``INSERT … ON CONFLICT DO UPDATE``.
PostgreSQL takes them through ``COPY`` into a session-local staging table, then one
``INSERT … SELECT … ON CONFLICT DO UPDATE`` (when an id repeats in a batch, its last row wins,
as it would row by row).

An existing row is updated only when a value differs (``… DO UPDATE SET … WHERE``), so a
re-import of an unchanged export writes nothing; ``write`` returns the rows inserted or
updated, from which the import tells ``updated`` from ``unchanged`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from revisit.dms.importing.formats import FileKind
from revisit.dms.importing.touched import TRACKED, merge_recording


class RowWriter(Protocol):
    def write(self, rows: Sequence[Sequence[Any]]) -> int:
        """Upsert ``rows``; the number inserted or changed (not those already the same)."""
        ...


def open_writer(
    conn: Connection, kind: FileKind, updated: list[str], *, record_touched: bool = False
) -> RowWriter:
    """A writer for ``kind`` that updates only ``updated`` columns of existing rows.

    ``record_touched``: the vehicles the writes touch are recorded for the visit summary
    (:mod:`revisit.dms.importing.touched`; SQLite's triggers do it whatever the writer)."""
    if conn.dialect.name == "postgresql":
        return PostgresCopyWriter(conn, kind, updated, record_touched=record_touched)
    return ExecuteManyWriter(conn, kind, updated)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def conflict_action(conn: Connection, kind: FileKind, updated: list[str]) -> str:
    sets = [f'"{c}" = excluded."{c}"' for c in updated]
    if "phone_invalid" in updated:
        # A number found dead stays marked dead until the export brings a different one.
        same = "IS" if conn.dialect.name == "sqlite" else "IS NOT DISTINCT FROM"
        sets[updated.index("phone_invalid")] = (
            f'"phone_invalid" = CASE WHEN "{kind.name}"."phone" {same} excluded."phone" '
            f'THEN "{kind.name}"."phone_invalid" ELSE excluded."phone_invalid" END'
        )
    if not sets:
        return f'ON CONFLICT ("{kind.key}") DO NOTHING'
    # phone_invalid only changes with the phone, which is compared itself.
    compared = [c for c in updated if c != "phone_invalid"] or updated
    differs = "IS NOT" if conn.dialect.name == "sqlite" else "IS DISTINCT FROM"
    changed = " OR ".join(f'"{kind.name}"."{c}" {differs} excluded."{c}"' for c in compared)
    return f'ON CONFLICT ("{kind.key}") DO UPDATE SET {", ".join(sets)} WHERE {changed}'


def placeholders(conn: Connection, sql: str) -> str:
    """Write ``?`` placeholders in the driver's own style (psycopg uses ``%s``)."""
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


class ExecuteManyWriter:
    def __init__(self, conn: Connection, kind: FileKind, updated: list[str]) -> None:
        cols = kind.db_columns()
        marks = ", ".join(["?"] * len(cols))
        action = conflict_action(conn, kind, updated)
        sql = f'INSERT INTO "{kind.name}" ({_names(cols)}) VALUES ({marks}) {action}'
        self.conn, self.sql = conn, placeholders(conn, sql)

    def write(self, rows: Sequence[Sequence[Any]]) -> int:
        # The driver's own executemany takes the rows as they are (SQLAlchemy's would want
        # each as a tuple); SQLAlchemy is told a transaction is open, so that the caller's
        # commit() commits these rows.
        if not self.conn.in_transaction():
            self.conn.begin()
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self.sql, rows)
            return max(int(cursor.rowcount), 0)
        finally:
            cursor.close()


class PostgresCopyWriter:
    def __init__(
        self, conn: Connection, kind: FileKind, updated: list[str], *, record_touched: bool = False
    ) -> None:
        cols = _names(kind.db_columns())
        self.conn, self.stage = conn, f"revisit_stage_{kind.name}"
        self.create = (
            f'CREATE TEMP TABLE IF NOT EXISTS "{self.stage}" AS '
            f'SELECT {cols}, 0 AS _ord FROM "{kind.name}" WITH NO DATA'
        )
        self.copy = f'COPY "{self.stage}" ({cols}, _ord) FROM STDIN'
        self.merge = (
            f'INSERT INTO "{kind.name}" ({cols}) '
            f'SELECT DISTINCT ON ("{kind.key}") {cols} FROM "{self.stage}" '
            f'ORDER BY "{kind.key}", _ord DESC {conflict_action(conn, kind, updated)}'
        )
        self.recording = record_touched and kind.name in TRACKED
        if self.recording:
            self.merge = merge_recording(kind.name, kind.key, self.merge)

    def write(self, rows: Sequence[Sequence[Any]]) -> int:
        # Statements go through SQLAlchemy so that it knows a transaction is open and the
        # caller's commit() commits it; only COPY needs the driver's own cursor.
        self.conn.exec_driver_sql(self.create)
        self.conn.exec_driver_sql(f'TRUNCATE "{self.stage}"')
        raw: Any = self.conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(self.copy) as copy:
            for i, row in enumerate(rows):
                copy.write_row((*row, i))
        if self.recording:
            return int(self.conn.exec_driver_sql(self.merge).scalar_one())
        return max(int(self.conn.exec_driver_sql(self.merge).rowcount), 0)
