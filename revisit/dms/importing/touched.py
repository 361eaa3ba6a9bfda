"""The vehicles an import touched, so that the visit summary is rebuilt for them alone.

A vehicle is touched when a row of it is inserted, when its purchase date changes, and when
a visit of it is inserted or changes its vin, date, type or mileage — both vehicles of a
visit moved from one to another. The vins are kept in a session-local table
(:data:`TABLE`), in the import's own transactions, so that rows rolled back (a file that
failed half-way) leave no trace there either:

- on SQLite, temporary triggers on ``vehicles`` and ``visits`` record them, whatever
  statement the import writes with;
- on PostgreSQL (no temporary triggers), the writer's merge statement records them itself
  (:func:`merge_recording`): the vins its ``RETURNING`` names, and for a visit the vin it had
  before, which a sibling statement of the same ``WITH`` reads from the snapshot the merge
  started from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

TABLE = "revisit_touched_vins"
TRACKED = ("vehicles", "visits")
#: the columns of a row whose change changes its vehicle's summary row
SUMMARISED = {"vehicles": ("purchase_date",), "visits": ("vin", "date", "type", "mileage_km")}


class TouchedVehicles:
    """The vins an import touched, recorded on ``conn`` between :meth:`start` and
    :meth:`stop` (SQLite: by triggers; PostgreSQL: by the writer, which asks
    :attr:`table`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"

    def start(self) -> None:
        """An empty record, and (SQLite) the triggers that fill it; committed."""
        if self.sqlite:
            self.conn.exec_driver_sql(
                f"CREATE TEMP TABLE IF NOT EXISTS {TABLE} (vin TEXT PRIMARY KEY) WITHOUT ROWID"
            )
            for sql in _sqlite_triggers():
                self.conn.exec_driver_sql(sql)
        else:
            self.conn.exec_driver_sql(
                f"CREATE TEMP TABLE IF NOT EXISTS {TABLE} (vin TEXT PRIMARY KEY)"
            )
        self.conn.exec_driver_sql(f"DELETE FROM {TABLE}")
        self.conn.commit()

    def stop(self) -> None:
        """Stop recording (the triggers go); the record stays for :meth:`vins`."""
        if self.sqlite:
            for name in _trigger_names():
                self.conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS temp.{name}")
            self.conn.commit()

    def count(self) -> int:
        return int(self.conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE}").scalar_one())

    def vins(self) -> Select[Any]:
        """A one-column SELECT of the touched vins."""
        return select(column("vin")).select_from(table(TABLE))

    def drop(self) -> None:
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        self.conn.commit()


def _trigger_names() -> list[str]:
    return [f"revisit_touch_{name}_{event}" for name in TRACKED for event in ("insert", "update")]


def _record(row: str) -> str:
    # Not INSERT OR IGNORE: a trigger's statements take the conflict policy of the
    # statement that fired it (the import's upsert), which would fail on a repeated vin.
    return (
        f"INSERT INTO {TABLE} (vin) SELECT {row}.vin WHERE NOT EXISTS "
        f"(SELECT 1 FROM {TABLE} WHERE vin = {row}.vin); "
    )


def _sqlite_triggers() -> list[str]:
    out = []
    for name in TRACKED:
        changed = " OR ".join(f'old."{c}" IS NOT new."{c}"' for c in SUMMARISED[name])
        old = _record("old") if name == "visits" else ""
        out += [
            f"CREATE TEMP TRIGGER IF NOT EXISTS revisit_touch_{name}_insert "
            f"AFTER INSERT ON main.{name} BEGIN {_record('new')}END",
            f"CREATE TEMP TRIGGER IF NOT EXISTS revisit_touch_{name}_update "
            f"AFTER UPDATE ON main.{name} WHEN {changed} BEGIN {old}{_record('new')}END",
        ]
    return out


def merge_recording(kind: str, key: str, merge: str) -> str:
    """PostgreSQL: ``merge`` (an ``INSERT … ON CONFLICT`` into ``kind``) as a statement that
    also records the vins it touched in :data:`TABLE` and returns one row: the number of
    rows the merge inserted or updated (what its row count was)."""
    cols = ", ".join(f'"{c}"' for c in dict.fromkeys(("vin", key)))
    recorded = "SELECT vin FROM merged"
    before = ""
    if kind == "visits":  # the vin a changed visit had before: the statement's snapshot
        before = (
            f', before AS (SELECT v.vin FROM "{kind}" v JOIN merged m '
            f'ON m."{key}" = v."{key}" WHERE v.vin IS DISTINCT FROM m.vin)'
        )
        recorded += " UNION SELECT vin FROM before"
    return (
        f"WITH merged AS ({merge} RETURNING {cols}){before}, "
        f"recorded AS (INSERT INTO {TABLE} (vin) {recorded} ON CONFLICT DO NOTHING) "
        "SELECT count(*) FROM merged"
    )
