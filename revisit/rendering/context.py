"""Batch loading of render contexts: everything the templates of a campaign need for a few
thousand members, fetched in a handful of set-based queries (IN lists in chunks).

The context of one customer (every key is always present; values may be ``None``):

- ``customer``: customer_id, name, phone (E.164), phone_masked, language, region, birthday
- ``language``: the customer's language, or the default when the customer has none
- ``vehicles``: the member's vehicles (for a customer-level cohort such as birthday, the
  customer's active vehicles), each with vin, plate, model, purchase_date, status,
  car_age_years, last_visit_date, last_visit_type, last_mileage_km, due_date, due_by (why
  it is due then: a :class:`~revisit.cohorts.definitions.DueBasis`, e.g. ``mileage``)
- ``store``: store_id, name, phone, address, sms_sender, timezone
- ``campaign``: name, cohort, channel, marketing, and what the campaign file says to
  customers (``occasion``, ``offer``, ``workshop_hours``: see revisit.campaigns.content)
- ``as_of``: the campaign date; ``due_date``: the earliest due date of the vehicles, and
  ``due_by``: why that vehicle is due then
- ``upsell_items``: item_id, item, grade, amount, due_date, visit_date, vin
- ``policies``: policy_id, vin, insurer, expiry_date
- ``history``: the latest visits (newest first): visit_id, vin, date, type, mileage_km,
  amount, advisor
- ``last_advisor``: the advisor of the latest visit that names one
- ``details``: the cohort's own fields for this member, as given
- ``opt_out_hint``: for marketing texts, a way to opt out that works for this customer
  (:mod:`revisit.rendering.optout_hint`: "回复TD退订" only where replies arrive, else
  "退订请致电<store phone>"); "" otherwise. ``opt_out_via``: the path it names (reply, phone,
  store)

Due dates and why come from the member's details (``due_date`` / ``due_by`` for all its
vehicles, or ``due_dates`` / ``due_bases`` by VIN): the cohort's own answer, which a
contact keeps in the outbox. A member without one has no due date; nothing is estimated
here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from revisit.cohorts.definitions import unindexed
from revisit.db.engine import chunked
from revisit.db.tables import CUSTOMERS, POLICIES, STORES, UPSELL, VEHICLES, VISITS
from revisit.dms.phones import mask_phone
from revisit.rendering.members import MemberRef, merge_members
from revisit.rendering.optout_hint import opt_out_hint, opt_out_via, replies_arrive

CHUNK = 500
HISTORY_PER_VEHICLE = 5
HISTORY_PER_CUSTOMER = 5
UPSELL_PER_CUSTOMER = 5


# Rows are read as the driver's tuples (attribute access by column name), never as ORM
# objects: a batch of members costs a handful of queries and no identity map.
Vehicle = Row[Any]
Customer = Row[Any]
Store = Row[Any]
Policy = Row[Any]
UpsellItem = Row[Any]


def _load_vehicles(
    conn: Connection, members: dict[str, MemberRef], as_of: dt.date
) -> dict[str, list[Vehicle]]:
    vins = sorted({v for m in members.values() for v in m.vins})
    whole = sorted(cid for cid, m in members.items() if not m.vins)
    rows: list[Vehicle] = []
    v = VEHICLES.c
    for chunk in chunked(vins, CHUNK):
        rows += conn.execute(select(VEHICLES).where(v.vin.in_(chunk))).all()
    for chunk in chunked(whole, CHUNK):
        rows += conn.execute(
            select(VEHICLES).where(
                v.customer_id.in_(chunk), v.status == "active", v.purchase_date <= as_of
            )
        ).all()
    by_customer: dict[str, list[Vehicle]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.purchase_date, r.vin)):
        by_customer[row.customer_id].append(row)
    return by_customer


def _load_history(
    conn: Connection, vins: list[str], as_of: dt.date
) -> dict[str, list[dict[str, Any]]]:
    """The latest visits of every VIN as history entries, newest first: one indexed read of
    the chunk's visits up to as_of (a vehicle has a handful), the first
    ``HISTORY_PER_VEHICLE`` of each kept. Each row is unpacked into its entry once (a
    row's field read by name costs about a microsecond)."""
    v = VISITS.c
    columns = (v.visit_id, v.vin, v.date, v.type, v.mileage_km, v.amount, v.advisor)
    by_vin: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for chunk in chunked(vins, CHUNK):
        rows = conn.execute(
            select(*columns)
            .where(v.vin.in_(chunk), v.date <= as_of)
            .order_by(v.vin, v.date.desc(), v.visit_id.desc())
        ).all()
        for visit_id, vin, date, type_, mileage_km, amount, advisor in rows:
            kept = by_vin[vin]
            if len(kept) < HISTORY_PER_VEHICLE:
                kept.append({
                    "visit_id": visit_id, "vin": vin, "date": date, "type": type_,
                    "mileage_km": mileage_km, "amount": amount, "advisor": advisor,
                })  # fmt: skip
    return by_vin


def _load_upsell(
    conn: Connection, vins: list[str], item_ids: list[str], *, grade: str | None, as_of: dt.date
) -> list[dict[str, Any]]:
    """Upsell items as context entries, newest visit first: the ones named, and the
    declined ones (of ``grade``, None: any) of ``vins`` up to as_of."""
    u, visit_date = UPSELL.c, VISITS.c.date.label("visit_date")
    base = select(UPSELL, visit_date).join(VISITS, VISITS.c.visit_id == u.visit_id)
    rows: list[UpsellItem] = []
    for chunk in chunked(item_ids, CHUNK):
        rows += conn.execute(base.where(u.item_id.in_(chunk))).all()
    # By the vehicle index: SQLite's planner (no statistics) would otherwise walk the
    # status index, every declined item of the group, once per chunk of vehicles.
    dialect = conn.dialect.name
    declined = [unindexed(u.status, dialect) == "declined", VISITS.c.date <= as_of]
    if grade is not None:
        declined.append(unindexed(u.grade, dialect) == grade)
    for chunk in chunked(vins, CHUNK):
        rows += conn.execute(base.where(u.vin.in_(chunk), *declined)).all()
    unique = {row.item_id: row for row in rows}
    items = [_item_context(row, row.visit_date) for row in unique.values()]
    return sorted(items, key=lambda i: (i["visit_date"], i["item_id"]), reverse=True)


def _load_policies(
    conn: Connection, vins: list[str], policy_ids: list[str], as_of: dt.date
) -> list[dict[str, Any]]:
    """Policies as context entries, soonest expiry first: the ones named, and the open
    ones (not renewed, expiring on or after as_of) of ``vins``."""
    rows: list[Policy] = []
    p = POLICIES.c
    for chunk in chunked(policy_ids, CHUNK):
        rows += conn.execute(select(POLICIES).where(p.policy_id.in_(chunk))).all()
    for chunk in chunked(vins, CHUNK):
        rows += conn.execute(
            select(POLICIES).where(p.vin.in_(chunk), p.renewed.is_(False), p.expiry_date >= as_of)
        ).all()
    unique = {p.policy_id: _policy_context(p) for p in rows}
    return sorted(unique.values(), key=lambda p: (p["expiry_date"], p["policy_id"]))


def _vehicle_context(
    vehicle: Vehicle,
    visits: list[dict[str, Any]],
    due: dt.date | None,
    due_by: str | None,
    as_of: dt.date,
) -> dict[str, Any]:
    mileages = [v["mileage_km"] for v in visits if v["mileage_km"] is not None]
    purchase_date = vehicle.purchase_date
    age_days = (as_of - purchase_date).days
    return {
        "vin": vehicle.vin,
        "plate": vehicle.plate,
        "model": vehicle.model,
        "purchase_date": purchase_date,
        "status": vehicle.status,
        "car_age_years": max(age_days, 0) // 365,
        "last_visit_date": visits[0]["date"] if visits else None,
        "last_visit_type": visits[0]["type"] if visits else None,
        "last_mileage_km": mileages[0] if mileages else None,
        "due_date": due,
        "due_by": due_by if due is not None else None,
    }


def _item_context(item: UpsellItem, visit_date: dt.date) -> dict[str, Any]:
    due = item.due_date
    if due is None and item.grade == "B":  # a grade B item is due 90 days after its visit
        due = visit_date + dt.timedelta(days=90)
    return {
        "item_id": item.item_id,
        "vin": item.vin,
        "item": item.item,
        "grade": item.grade,
        "status": item.status,
        "amount": item.amount,
        "due_date": due,
        "visit_date": visit_date,
    }


def _policy_context(p: Policy) -> dict[str, Any]:
    return {
        "policy_id": p.policy_id,
        "vin": p.vin,
        "insurer": p.insurer,
        "expiry_date": p.expiry_date,
    }


def _customer_context(c: Customer, language: str) -> dict[str, Any]:
    return {
        "customer_id": c.customer_id,
        "name": c.name,
        "phone": c.phone,
        "phone_masked": mask_phone(c.phone),
        "language": language,
        "region": c.region,
        "birthday": c.birthday,
    }


def _store_context(s: Store) -> dict[str, Any]:
    return {
        "store_id": s.store_id,
        "name": s.name,
        "phone": s.phone,
        "address": s.address,
        "sms_sender": s.sms_sender,
        "timezone": s.timezone,
    }


def _by_id(conn: Connection, table: Table, key: str, ids: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    column = table.c[key]
    for chunk in chunked(sorted(set(ids)), CHUNK):
        for row in conn.execute(select(table).where(column.in_(chunk))):
            found[getattr(row, key)] = row
    return found


def _owner_maps(
    merged: dict[str, MemberRef], vehicles: dict[str, list[Vehicle]]
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """VIN → customer, and the customer of every requested item and policy id."""
    vin_owner = {v.vin: cid for cid, vs in vehicles.items() for v in vs}
    for cid, m in merged.items():
        vin_owner.update({vin: cid for vin in m.vins})
    item_owner = {i: cid for cid, m in merged.items() for i in m.details["item_ids"]}
    policy_owner = {p: cid for cid, m in merged.items() for p in m.details["policy_ids"]}
    return vin_owner, item_owner, policy_owner


def _load_related(
    conn: Connection,
    merged: dict[str, MemberRef],
    vehicles: dict[str, list[Vehicle]],
    *,
    cohort: str,
    as_of: dt.date,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Upsell items and policies by customer: the ones the members name, else the declined
    items (of the cohort's grade) and the open policies of the members' vehicles."""
    vin_owner, item_owner, policy_owner = _owner_maps(merged, vehicles)
    grade = cohort.removeprefix("declined_").upper() if cohort.startswith("declined_") else None
    free_vins = sorted(v for v, cid in vin_owner.items() if not merged[cid].details["item_ids"])
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in _load_upsell(conn, free_vins, sorted(item_owner), grade=grade, as_of=as_of):
        cid = item_owner.get(item["item_id"]) or vin_owner[item["vin"]]
        if len(items[cid]) < UPSELL_PER_CUSTOMER:
            items[cid].append(item)
    free_vins = sorted(v for v, cid in vin_owner.items() if not merged[cid].details["policy_ids"])
    policies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for policy in _load_policies(conn, free_vins, sorted(policy_owner), as_of):
        cid = policy_owner.get(policy["policy_id"]) or vin_owner[policy["vin"]]
        policies[cid].append(policy)
    return items, policies


def load_contexts(
    session: Session,
    *,
    campaign_name: str,
    cohort: str,
    channel: str,
    as_of: dt.date,
    members: Sequence[MemberRef],
    language_default: str = "zh",
    marketing: bool = True,
    campaign_vars: Mapping[str, Any] | None = None,
    sender_receives_replies: bool = False,
) -> dict[str, dict[str, Any]]:
    """The render context of every member's customer, keyed by customer id (see the module
    docstring). Members of one customer are merged. ``sender_receives_replies``: whether
    replies to the SMS sender reach revisit (``Settings.receives_replies``), which decides
    the opt-out hint. Raises LookupError for an unknown customer or VIN: a member always
    names imported rows."""
    merged = merge_members(members)
    conn = session.connection()
    customers = _by_id(conn, CUSTOMERS, "customer_id", list(merged))
    missing = sorted(set(merged) - set(customers))
    if missing:
        raise LookupError(f"{campaign_name}: unknown customer ids: {', '.join(missing[:10])}")
    stores = _by_id(conn, STORES, "store_id", [c.store_id for c in customers.values()])
    vehicles = _load_vehicles(conn, merged, as_of)
    vins = sorted({v.vin for vs in vehicles.values() for v in vs})
    unknown = sorted({v for m in merged.values() for v in m.vins} - set(vins))
    if unknown:
        raise LookupError(f"{campaign_name}: unknown VINs: {', '.join(unknown[:10])}")
    history = _load_history(conn, vins, as_of)
    items, policies = _load_related(conn, merged, vehicles, cohort=cohort, as_of=as_of)
    campaign = {"name": campaign_name, "cohort": cohort, "channel": channel, "marketing": marketing}
    campaign |= dict(campaign_vars or {})
    contexts: dict[str, dict[str, Any]] = {}
    store_contexts = {sid: _store_context(s) for sid, s in stores.items()}  # read-only
    for cid in sorted(merged):
        customer = customers[cid]
        language = customer.language or language_default
        store = stores[customer.store_id]
        replies = replies_arrive(sender_receives_replies=sender_receives_replies,
                                 phone=customer.phone)  # fmt: skip
        via = opt_out_via(replies=replies, store_phone=store.phone)
        contexts[cid] = {
            "customer": _customer_context(customer, language),
            "language": language,
            "store": store_contexts[customer.store_id],
            "campaign": campaign,
            "as_of": as_of,
            "upsell_items": items[cid],
            "policies": policies[cid],
            "details": merged[cid].details,
            "opt_out_hint": opt_out_hint(
                language,
                marketing=marketing,
                via=via,
                store_phone=store.phone,
                store_name=store.name,
            ),
            "opt_out_via": via if marketing else None,
        }
        _add_vehicles(contexts[cid], vehicles[cid], history, merged[cid], as_of)
    return contexts


def _add_vehicles(
    ctx: dict[str, Any],
    vehicles: list[Vehicle],
    history: dict[str, list[dict[str, Any]]],
    member: MemberRef,
    as_of: dt.date,
) -> None:
    """Vehicles (in the member's order), their due dates as the cohort gave them, and the
    customer's recent visits."""
    if len(vehicles) > 1:
        order = {vin: i for i, vin in enumerate(member.vins)}
        vehicles = sorted(vehicles, key=lambda v: (order.get(v.vin, len(order)), v.vin))
    due_dates: dict[str, dt.date | None] = member.details["due_dates"]
    due_bases: dict[str, str] = member.details["due_bases"]
    rows = []
    for v in vehicles:
        visits = history.get(v.vin, [])
        due = due_dates.get(v.vin) or member.details.get("due_date")
        due_by = due_bases.get(v.vin) or member.details.get("due_by")
        rows.append(_vehicle_context(v, visits, due, due_by, as_of))
    ctx["vehicles"] = rows
    dated = [r for r in rows if r["due_date"] is not None]
    first = min(dated, key=lambda r: r["due_date"]) if dated else member.details
    ctx["due_date"], ctx["due_by"] = first.get("due_date"), first.get("due_by")
    if len(vehicles) == 1:  # one vehicle's visits are newest first already
        visits = history.get(vehicles[0].vin, [])
    else:
        visits = sorted(
            (visit for v in vehicles for visit in history.get(v.vin, [])),
            key=lambda visit: (visit["date"], visit["visit_id"]),
            reverse=True,
        )
    ctx["history"] = visits[:HISTORY_PER_CUSTOMER]
    ctx["last_advisor"] = next((v["advisor"] for v in visits if v["advisor"]), None)
