"""Small factories for test data: each adds one row with sensible defaults and returns it.

Call them inside a session and commit when done:

    with Session(engine) as s:
        c = make_customer(s)
        v = make_vehicle(s, customer=c, purchase_date=date(2024, 1, 31))
        make_visit(s, vehicle=v, date=date(2024, 5, 1), type="first_service")
        s.commit()
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlmodel import Session

from revisit.db.tables import Customer, Policy, Store, UpsellItem, Vehicle, Visit
from revisit.settings import DEFAULT_STORE_ID

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def reset_ids() -> None:
    """Start the ids over (every test does, so that what hashes on an id — the holdout —
    gives the same answer whichever tests ran before)."""
    global _seq
    _seq = itertools.count(1)


def make_store(session: Session, **kw: Any) -> Store:
    n = _next()
    values: dict[str, Any] = {"store_id": f"S{n}", "name": f"Store {n}"}
    values.update(kw)
    store = Store(**values)
    session.add(store)
    session.flush()
    return store


def make_customer(session: Session, **kw: Any) -> Customer:
    n = _next()
    values: dict[str, Any] = {
        "customer_id": f"C{n:06d}",
        "name": f"客户{n}",
        "phone": f"+86139{n:08d}",
        "phone_raw": f"139{n:08d}",
        "phone_type": "mobile",
        "store_id": DEFAULT_STORE_ID,
    }
    values.update(kw)
    if values.get("birthday") and "birthday_md" not in kw:
        values["birthday_md"] = values["birthday"].strftime("%m-%d")
    customer = Customer(**values)
    session.add(customer)
    session.flush()
    return customer


def make_vehicle(session: Session, *, customer: Customer | None = None, **kw: Any) -> Vehicle:
    n = _next()
    customer = customer or make_customer(session)
    values: dict[str, Any] = {
        "vin": f"LVIN{n:013d}",
        "customer_id": customer.customer_id,
        "plate": f"闽C{n:05d}",
        "model": "Sedan",
        "purchase_date": dt.date(2022, 1, 15),
    }
    values.update(kw)
    vehicle = Vehicle(**values)
    session.add(vehicle)
    session.flush()
    return vehicle


def make_visit(session: Session, *, vehicle: Vehicle, **kw: Any) -> Visit:
    n = _next()
    values: dict[str, Any] = {
        "visit_id": f"RO{n:07d}",
        "vin": vehicle.vin,
        "date": dt.date(2023, 1, 15),
        "type": "maintenance",
    }
    values.update(kw)
    visit = Visit(**values)
    session.add(visit)
    session.flush()
    return visit


def make_policy(session: Session, *, vehicle: Vehicle, **kw: Any) -> Policy:
    n = _next()
    values: dict[str, Any] = {
        "policy_id": f"P{n:07d}",
        "vin": vehicle.vin,
        "expiry_date": dt.date(2024, 1, 1),
    }
    values.update(kw)
    policy = Policy(**values)
    session.add(policy)
    session.flush()
    return policy


def make_upsell_item(session: Session, *, visit: Visit, **kw: Any) -> UpsellItem:
    n = _next()
    values: dict[str, Any] = {
        "item_id": f"U{n:07d}",
        "visit_id": visit.visit_id,
        "vin": visit.vin,
        "item": "刹车片",
        "grade": "B",
        "status": "declined",
    }
    values.update(kw)
    item = UpsellItem(**values)
    session.add(item)
    session.flush()
    return item
