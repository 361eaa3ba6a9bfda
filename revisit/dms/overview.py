"""The dealership at a glance, before any campaign: what was imported, vehicles per store,
visits per month, and how many customers have not been seen for 6, 12 and 24 months."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import text
from sqlalchemy.engine import Connection

TABLES = ("stores", "customers", "vehicles", "visits", "policies", "upsell_items")
LAPSE_MONTHS = (6, 12, 24)


@dataclass
class StoreFacts:
    """One store at a glance: customers and active vehicles (counts), and ``not_seen``:
    months (6, 12, 24) → customers whose latest visit or purchase is that long before as_of."""

    store_id: str
    name: str
    customers: int = 0
    active_vehicles: int = 0
    # customers whose latest visit (or purchase) is at least N months before as_of
    not_seen: dict[int, int] = field(default_factory=dict)

    def share_not_seen(self, months: int) -> float:
        return self.not_seen.get(months, 0) / self.customers if self.customers else 0.0


@dataclass
class Overview:
    """The dealership as of ``as_of``: ``rows`` per imported table, vehicles per status,
    customers per phone kind, one :class:`StoreFacts` per store and ``visits_per_month``
    as ("YYYY-MM", visits) for the last 12 months."""

    as_of: dt.date
    rows: dict[str, int]
    vehicle_status: dict[str, int]
    phones: dict[str, int]  # mobile / landline / none / no_sms_consent
    stores: list[StoreFacts]
    visits_per_month: list[tuple[str, int]]  # ("2026-10", n), oldest first

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "vehicle_status": self.vehicle_status,
            "phones": self.phones,
            "stores": [_store_dict(s) for s in self.stores],
            "visits_per_month": dict(self.visits_per_month),
        }


def _store_dict(s: StoreFacts) -> dict[str, Any]:
    return {
        "store_id": s.store_id,
        "name": s.name,
        "customers": s.customers,
        "active_vehicles": s.active_vehicles,
        "not_seen": {f"{m}_months": s.not_seen.get(m, 0) for m in LAPSE_MONTHS},
    }


def dealership_overview(conn: Connection, *, as_of: dt.date, months: int = 12) -> Overview:
    """Facts about the imported data as of ``as_of`` (later visits and purchases ignored)."""
    rows = {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}
    status: dict[str, int] = dict(
        conn.execute(
            text("SELECT status, count(*) FROM vehicles WHERE purchase_date <= :d GROUP BY status"),
            {"d": as_of},
        ).all()
    )
    return Overview(
        as_of=as_of,
        rows=rows,
        vehicle_status={k: int(v) for k, v in status.items()},
        phones=_phones(conn),
        stores=_stores(conn, as_of),
        visits_per_month=_visits_per_month(conn, as_of, months),
    )


def _phones(conn: Connection) -> dict[str, int]:
    row = conn.execute(
        text(
            "SELECT "
            "sum(CASE WHEN phone_type = 'mobile' AND NOT phone_invalid THEN 1 ELSE 0 END), "
            "sum(CASE WHEN phone_type = 'landline' AND NOT phone_invalid THEN 1 ELSE 0 END), "
            "sum(CASE WHEN phone IS NULL OR phone_invalid THEN 1 ELSE 0 END), "
            "sum(CASE WHEN NOT consent_sms THEN 1 ELSE 0 END) FROM customers"
        )
    ).one()
    keys = ("mobile", "landline", "none", "no_sms_consent")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}


def _stores(conn: Connection, as_of: dt.date) -> list[StoreFacts]:
    stores = {
        sid: StoreFacts(sid, name)
        for sid, name in conn.execute(text("SELECT store_id, name FROM stores ORDER BY store_id"))
    }
    bounds = {m: as_of - relativedelta(months=m) for m in LAPSE_MONTHS}
    # One pass: each customer's latest sighting (visit, else purchase) over active vehicles.
    sql = text(
        """
        WITH seen AS (
            SELECT v.customer_id, max(coalesce(last.date, v.purchase_date)) AS last_seen
            FROM vehicles v
            LEFT JOIN (
                SELECT vin, max(date) AS date FROM visits WHERE date <= :as_of GROUP BY vin
            ) last ON last.vin = v.vin
            WHERE v.status = 'active' AND v.purchase_date <= :as_of
            GROUP BY v.customer_id
        )
        SELECT c.store_id, count(*),
               sum(CASE WHEN s.last_seen <= :m6 THEN 1 ELSE 0 END),
               sum(CASE WHEN s.last_seen <= :m12 THEN 1 ELSE 0 END),
               sum(CASE WHEN s.last_seen <= :m24 THEN 1 ELSE 0 END)
        FROM seen s JOIN customers c ON c.customer_id = s.customer_id
        GROUP BY c.store_id
        """
    )
    params = {"as_of": as_of, "m6": bounds[6], "m12": bounds[12], "m24": bounds[24]}
    for store_id, n, m6, m12, m24 in conn.execute(sql, params):
        facts = stores.setdefault(store_id, StoreFacts(store_id, store_id))
        facts.customers = int(n)
        facts.not_seen = {6: int(m6 or 0), 12: int(m12 or 0), 24: int(m24 or 0)}
    vehicles = text(
        "SELECT c.store_id, count(*) FROM vehicles v "
        "JOIN customers c ON c.customer_id = v.customer_id "
        "WHERE v.status = 'active' AND v.purchase_date <= :as_of GROUP BY c.store_id"
    )
    for store_id, n in conn.execute(vehicles, {"as_of": as_of}):
        stores.setdefault(store_id, StoreFacts(store_id, store_id)).active_vehicles = int(n)
    return [s for s in stores.values() if s.customers or s.active_vehicles]


def _visits_per_month(conn: Connection, as_of: dt.date, months: int) -> list[tuple[str, int]]:
    first = (as_of.replace(day=1)) - relativedelta(months=months - 1)
    month = (
        "strftime('%Y-%m', date)" if conn.dialect.name == "sqlite" else "to_char(date, 'YYYY-MM')"
    )
    sql = text(
        f"SELECT {month} AS m, count(*) FROM visits "
        "WHERE date >= :first AND date <= :as_of GROUP BY m ORDER BY m"
    )
    counts: dict[str, int] = dict(conn.execute(sql, {"first": first, "as_of": as_of}).all())
    keys = [(first + relativedelta(months=i)).strftime("%Y-%m") for i in range(months)]
    return [(k, int(counts.get(k, 0))) for k in keys]
