# ruff: noqa: E501  (the boundary tables read best one case per line)
"""Cohorts: table-driven boundary cases for every cohort, and the SQL cohorts compared with
an independent brute-force reading of SPEC on a randomised dealership, on both databases."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import random
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from revisit.cohorts.select import (
    COHORTS,
    CohortFilter,
    UnknownCohortError,
    cohort_sizes_by_store,
    select_cohort,
)
from revisit.db.tables import OptOut, Vehicle
from revisit.dms.visit_summary import refresh_visit_summary, summary_current_for
from tests.factories import (
    make_customer,
    make_policy,
    make_store,
    make_upsell_item,
    make_vehicle,
    make_visit,
)

D = dt.date
DAY = dt.timedelta(days=1)

# --- an independent reading of SPEC's definitions -------------------------------------------


def months_before(d: dt.date, n: int) -> dt.date:
    index = d.year * 12 + d.month - 1 - n
    year, month = divmod(index, 12)
    month += 1
    return D(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def oracle(data: dict[str, list[dict[str, Any]]], cohort: str, as_of: dt.date) -> dict:
    """{(customer_id, vin): due_date or None} straight from SPEC, one vehicle at a time."""
    dnc = {o["customer_id"] for o in data["opt_outs"]}
    out: dict[tuple[str, str | None], Any] = {}
    if cohort == "birthday":
        for c in data["customers"]:
            b = c["birthday"]
            if b is None or c["customer_id"] in dnc:
                continue
            day = 28 if (b.month, b.day) == (2, 29) and not calendar.isleap(as_of.year) else b.day
            if (b.month, day) == (as_of.month, as_of.day):
                out[(c["customer_id"], None)] = None
        return out
    if cohort == "active_customers":  # an active vehicle last seen (or bought) < 24 months ago
        for v in data["vehicles"]:
            if v["purchase_date"] > as_of or v["status"] != "active" or v["customer_id"] in dnc:
                continue
            seen = [
                x["date"] for x in data["visits"] if x["vin"] == v["vin"] and x["date"] <= as_of
            ]
            if max(seen, default=v["purchase_date"]) > months_before(as_of, 24):
                out[(v["customer_id"], None)] = None
        return out
    for v in data["vehicles"]:
        if v["purchase_date"] > as_of or v["status"] != "active" or v["customer_id"] in dnc:
            continue
        due = vehicle_member(data, v, cohort, as_of)
        if due is not False:
            out[(v["customer_id"], v["vin"])] = due
    return out


def vehicle_member(data: dict, v: dict, cohort: str, as_of: dt.date) -> Any:
    """The due date (or None) when the vehicle is a member, False when it is not."""
    visits = sorted(
        (x for x in data["visits"] if x["vin"] == v["vin"] and x["date"] <= as_of),
        key=lambda x: x["date"],
    )
    if cohort == "first_service_due":
        due = v["purchase_date"] + 90 * DAY
        return due if not visits and due - 14 * DAY <= as_of <= due + 30 * DAY else False
    if cohort == "maintenance_due":
        return maintenance(visits, as_of)
    if cohort.startswith("lapsed_"):
        r = visits[-1]["date"] if visits else v["purchase_date"]
        lo, hi = {"lapsed_6_12": (12, 6), "lapsed_12_24": (24, 12), "lapsed_24_plus": (None, 24)}[
            cohort
        ]
        inside = r <= months_before(as_of, hi) and (lo is None or r > months_before(as_of, lo))
        if cohort == "lapsed_6_12" and vehicle_member(data, v, "first_service_due", as_of):
            return False
        return None if inside else False
    if cohort == "insurance_renewal":
        ok = any(
            p["vin"] == v["vin"]
            and not p["renewed"]
            and as_of <= p["expiry_date"] <= as_of + 60 * DAY
            for p in data["policies"]
        )
        return None if ok else False
    if cohort == "new_car_7dc":
        due = v["purchase_date"] + 7 * DAY
        return due if 7 <= (as_of - v["purchase_date"]).days <= 9 else False
    if cohort == "new_car_care":
        serviced = any(x["type"] in ("first_service", "maintenance") for x in visits)
        due = v["purchase_date"] + 90 * DAY
        return due if 21 <= (as_of - v["purchase_date"]).days <= 28 and not serviced else False
    if cohort == "repeat_repair":
        repairs = [x for x in visits if x["type"] in ("repair", "warranty")]
        return (
            None
            if any(
                b["date"] == as_of - DAY and a is not b and 0 <= (b["date"] - a["date"]).days <= 30
                for a in repairs
                for b in repairs
            )
            else False
        )
    if cohort == "post_service_followup":
        return None if any(as_of - 3 * DAY <= x["date"] <= as_of - DAY for x in visits) else False
    return declined(data, v, visits, cohort[-1].upper(), as_of)


def maintenance(visits: list[dict], as_of: dt.date) -> Any:
    service = [x for x in visits if x["type"] in ("first_service", "maintenance")]
    if not service or visits[-1]["date"] > service[-1]["date"]:
        return False
    last = service[-1]["date"]
    due = last + 180 * DAY
    l_has_km = any(x["mileage_km"] is not None for x in service if x["date"] == last)
    with_km = [x for x in visits if x["mileage_km"] is not None]
    if l_has_km and with_km:
        first_day = with_km[0]["date"]
        last_day = with_km[-1]["date"]
        first = min(x["mileage_km"] for x in with_km if x["date"] == first_day)
        final = max(x["mileage_km"] for x in with_km if x["date"] == last_day)
        days = (last_day - first_day).days
        if days >= 30 and final > first:
            due = min(due, last + (10000 * days // (final - first)) * DAY)
    return due if due - 14 * DAY <= as_of <= due + 30 * DAY else False


def declined(data: dict, v: dict, visits: list[dict], grade: str, as_of: dt.date) -> Any:
    by_id = {x["visit_id"]: x for x in visits}
    for item in data["items"]:
        visit = by_id.get(item["visit_id"])
        if item["vin"] != v["vin"] or item["grade"] != grade or item["status"] != "declined":
            continue
        if visit is None or any(x["date"] > visit["date"] for x in visits):
            continue
        day = visit["date"]
        due = item["due_date"] or day + 90 * DAY
        if (
            (grade == "A" and as_of - 3 * DAY <= day <= as_of - DAY)
            or (grade == "B" and as_of <= due <= as_of + 14 * DAY)
            or (grade == "C" and day > months_before(as_of, 12))
        ):
            return None
    return False


# --- building a dealership from plain rows -------------------------------------------------


def load(session: Session, data: dict[str, list[dict[str, Any]]]) -> None:
    customers = {c["customer_id"]: make_customer(session, **c) for c in data["customers"]}
    vehicles = {
        v["vin"]: make_vehicle(session, customer=customers[v["customer_id"]], **v)
        for v in data["vehicles"]
    }
    visits = {
        x["visit_id"]: make_visit(session, vehicle=vehicles[x["vin"]], **x) for x in data["visits"]
    }
    for p in data["policies"]:
        make_policy(session, vehicle=vehicles[p["vin"]], **p)
    for i in data["items"]:
        make_upsell_item(session, visit=visits[i["visit_id"]], **i)
    for o in data["opt_outs"]:
        session.add(OptOut(customer_id=o["customer_id"], source="staff"))
    session.commit()


def random_dealership(seed: int, around: dt.date, n: int = 160) -> dict[str, list[dict]]:
    rnd = random.Random(seed)
    data: dict[str, list[dict]] = {k: [] for k in ("customers", "vehicles", "visits")}
    data |= {"policies": [], "items": [], "opt_outs": []}
    for i in range(n):
        cid = f"R{seed}C{i // 2:04d}"  # two vehicles per customer
        if i % 2 == 0:
            bday = rnd.choice([None, D(1980, 2, 29), D(1985, 2, 28), D(1990, 3, 31)])
            bday = rnd.choice([bday, D(1976, 8, 31), D(1979, 2, 28)])
            data["customers"].append({"customer_id": cid, "birthday": bday})
            if rnd.random() < 0.05:
                data["opt_outs"].append({"customer_id": cid})
        vin = f"R{seed}V{i:05d}"
        purchase = around - rnd.randint(-30, 1300) * DAY
        status = "active" if rnd.random() < 0.93 else rnd.choice(["sold", "scrapped"])
        data["vehicles"].append(
            {"vin": vin, "customer_id": cid, "purchase_date": purchase, "status": status}
        )
        day, km, rate = purchase, 0, rnd.choice([15, 40, 90, 250])
        for j in range(rnd.choice([0, 1, 2, 3, 4, 6])):
            step = rnd.choice([1, 2, 3, 29, 30, 31, 60, 90, 150, 166, 180, 200, 400])
            day, km = day + step * DAY, km + step * rate
            vid = f"{vin}-{j}"
            kind = rnd.choice(
                ["first_service", "maintenance", "maintenance", "repair", "warranty", "other"]
            )
            mileage = None if rnd.random() < 0.2 else km + rnd.randint(-500, 100)
            data["visits"].append(
                {"visit_id": vid, "vin": vin, "date": day, "type": kind, "mileage_km": mileage}
            )
            if rnd.random() < 0.4:
                due = rnd.choice([None, day + rnd.randint(0, 200) * DAY])
                data["items"].append(
                    {
                        "item_id": f"{vid}-u",
                        "visit_id": vid,
                        "vin": vin,
                        "grade": rnd.choice("ABC"),
                        "due_date": due,
                        "status": rnd.choice(["declined", "declined", "accepted"]),
                    }
                )
        if rnd.random() < 0.5:
            data["policies"].append(
                {
                    "policy_id": f"{vin}-p",
                    "vin": vin,
                    "expiry_date": around + rnd.randint(-10, 80) * DAY,
                    "renewed": rnd.random() < 0.2,
                }
            )
    return data


AS_OF_DATES = [D(2024, 2, 29), D(2023, 2, 28), D(2024, 8, 31)]


def data_dates(data: dict[str, list[dict]], seed: int) -> list[dt.date]:
    """As-of dates near the data's own dates, so the short windows have members too."""
    rnd = random.Random(seed)
    visits = [x["date"] for x in data["visits"]]
    dues = [i["due_date"] for i in data["items"] if i["due_date"]]
    day_of = {x["visit_id"]: x["date"] for x in data["visits"]}
    graded_a = [day_of[i["visit_id"]] for i in data["items"]
                if (i["grade"], i["status"]) == ("A", "declined")]  # fmt: skip
    picks = [rnd.choice(visits) + rnd.randint(1, 3) * DAY for _ in range(3)]
    picks += [rnd.choice(visits) + rnd.choice([166, 180, 194, 210]) * DAY for _ in range(3)]
    picks += [rnd.choice(graded_a) + rnd.randint(1, 3) * DAY for _ in range(4)]
    purchases = [v["purchase_date"] for v in data["vehicles"]]
    picks += [rnd.choice(purchases) + rnd.choice([7, 8, 9, 21, 24, 28]) * DAY for _ in range(6)]
    repairs = sorted(
        (x["vin"], x["date"]) for x in data["visits"] if x["type"] in ("repair", "warranty")
    )
    comebacks = [
        b for (va, a), (vb, b) in itertools.pairwise(repairs) if va == vb and (b - a).days <= 31
    ]
    picks += [rnd.choice(comebacks) + DAY for _ in range(4)]
    picks += [rnd.choice(repairs)[1] + DAY for _ in range(2)]
    return [*picks, rnd.choice(dues) - rnd.randint(0, 14) * DAY]


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_cohorts_match_spec_oracle(engine, seed: int) -> None:
    data = random_dealership(seed, around=D(2024, 2, 29))
    seen: dict[str, int] = dict.fromkeys(COHORTS, 0)
    with Session(engine) as s:
        load(s, data)
        for as_of in AS_OF_DATES + data_dates(data, seed):
            for name in COHORTS:
                members = select_cohort(s, cohort=name, as_of=as_of)
                got = {(m.customer_id, m.vin): m.due_date for m in members}
                want = oracle(data, name, as_of)
                assert set(got) == set(want), (name, as_of)
                if name in ("first_service_due", "maintenance_due"):
                    assert got == want, (name, as_of)
                seen[name] += len(got)
    assert all(seen.values()), seen  # every cohort was exercised, not just agreed on empty


def summarise_through(session: Session, as_of: dt.date) -> None:
    """Drop what lies after ``as_of`` (cohorts ignore it anyway) and rebuild the visit
    summary, so cohorts as of ``as_of`` read it instead of the visits."""
    later = "(SELECT visit_id FROM visits WHERE date > :d)"
    session.execute(text(f"DELETE FROM upsell_items WHERE visit_id IN {later}"), {"d": as_of})
    session.execute(text("DELETE FROM visits WHERE date > :d"), {"d": as_of})
    refresh_visit_summary(session)
    session.commit()
    assert summary_current_for(session, as_of)


SUMMARY_COHORTS = [name for name, d in COHORTS.items() if d.reads_summary]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summary_cohorts_match_spec_oracle(engine, seed: int) -> None:
    """The cohorts that read the visit summary agree with SPEC when they do: the as_of
    dates are taken latest first, each after trimming what lies beyond it."""
    data = random_dealership(seed, around=D(2024, 2, 29))
    seen: dict[str, int] = dict.fromkeys(SUMMARY_COHORTS, 0)
    with Session(engine) as s:
        load(s, data)
        for as_of in sorted(set(AS_OF_DATES + data_dates(data, seed)), reverse=True):
            summarise_through(s, as_of)
            for name in SUMMARY_COHORTS:
                got = {
                    (m.customer_id, m.vin): m.due_date
                    for m in select_cohort(s, cohort=name, as_of=as_of)
                }
                want = oracle(data, name, as_of)
                assert got == want, (name, as_of)
                seen[name] += len(got)
    assert all(seen.values()), seen


def test_summary_read_only_while_current(engine) -> None:
    with Session(engine) as s:
        _, vin = scenario(
            s, {"purchase": D(2021, 1, 1), "visits": [(D(2021, 6, 30), "repair", None)]}
        )
        assert not summary_current_for(s, D(2024, 2, 29))  # never built
        refresh_visit_summary(s)
        s.commit()
        assert summary_current_for(s, D(2024, 2, 29))
        assert summary_current_for(s, D(2021, 6, 30))
        assert not summary_current_for(s, D(2021, 6, 29))  # a replay before the latest visit
        make_visit(s, vehicle=s.get(Vehicle, vin), date=D(2024, 1, 5), type="repair")
        s.commit()
        assert not summary_current_for(s, D(2024, 2, 29))  # visits changed behind its back
        # read from the visits, the new visit counts: no longer lapsed 24+ months
        assert select_cohort(s, cohort="lapsed_24_plus", as_of=D(2024, 2, 29)) == []
        refresh_visit_summary(s)
        make_vehicle(s, customer=make_customer(s), purchase_date=D(2020, 1, 1))
        s.commit()
        assert not summary_current_for(s, D(2024, 2, 29))  # vehicles too


def test_summary_checked_once_per_transaction(engine) -> None:
    """A planning pass asks before every cohort query; the data are looked at once per
    transaction (on PostgreSQL the counts cost an index scan)."""
    with Session(engine) as s:
        scenario(s, {"visits": [(D(2021, 6, 30), "repair", None)]})
        refresh_visit_summary(s)
        s.commit()
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_rest) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert summary_current_for(s, D(2024, 2, 29))
            first = len(statements)
            assert summary_current_for(s, D(2024, 2, 29))
            assert not summary_current_for(s, D(2021, 6, 29))
            assert len(statements) == first
            s.commit()
            assert summary_current_for(s, D(2024, 2, 29))
            assert len(statements) == 2 * first
        finally:
            event.remove(engine, "before_cursor_execute", record)


# --- boundary cases, one vehicle each ------------------------------------------------------

V = ("maintenance", "first_service", "repair")


def scenario(session: Session, case: dict[str, Any]) -> tuple[str, str]:
    """One customer with one vehicle described by ``case``; returns (customer_id, vin)."""
    c = make_customer(session, birthday=case.get("birthday"))
    v = make_vehicle(
        session,
        customer=c,
        purchase_date=case.get("purchase", D(2020, 1, 1)),
        status=case.get("status", "active"),
    )
    visits = [
        make_visit(session, vehicle=v, date=day, type=kind, mileage_km=km)
        for day, kind, km in case.get("visits", [])
    ]
    for index, grade, due in case.get("items", []):
        make_upsell_item(session, visit=visits[index], grade=grade, due_date=due)
    for expiry, renewed in case.get("policies", []):
        make_policy(session, vehicle=v, expiry_date=expiry, renewed=renewed)
    if case.get("opt_out"):
        session.add(OptOut(customer_id=c.customer_id, source="staff"))
    session.commit()
    return c.customer_id, v.vin


FS = "first_service_due"
MD = "maintenance_due"
# purchase 2024-01-31 → first service due 2024-04-30: window 2024-04-16 … 2024-05-30
# maintenance L = 2023-08-31 → due 2024-02-27: window 2024-02-13 … 2024-03-28
L = D(2023, 8, 31)
# fmt: off
CASES: list[tuple[str, str, dt.date, dict[str, Any], bool]] = [
    (FS, "window start", D(2024, 4, 16), {"purchase": D(2024, 1, 31)}, True),
    (FS, "day before window", D(2024, 4, 15), {"purchase": D(2024, 1, 31)}, False),
    (FS, "window end", D(2024, 5, 30), {"purchase": D(2024, 1, 31)}, True),
    (FS, "day after window", D(2024, 5, 31), {"purchase": D(2024, 1, 31)}, False),
    (FS, "already visited", D(2024, 4, 20), {"purchase": D(2024, 1, 31), "visits": [(D(2024, 4, 1), "repair", None)]}, False),
    (FS, "visit after as_of ignored", D(2024, 4, 20), {"purchase": D(2024, 1, 31), "visits": [(D(2024, 4, 21), "first_service", 5000)]}, True),
    (FS, "leap day purchase", D(2024, 5, 15), {"purchase": D(2024, 2, 29)}, True),
    (FS, "sold vehicle", D(2024, 4, 20), {"purchase": D(2024, 1, 31), "status": "sold"}, False),
    (FS, "do not contact", D(2024, 4, 20), {"purchase": D(2024, 1, 31), "opt_out": True}, False),
    (MD, "date window start", D(2024, 2, 13), {"visits": [(D(2023, 8, 31), "maintenance", None)]}, True),
    (MD, "date day before", D(2024, 2, 12), {"visits": [(D(2023, 8, 31), "maintenance", None)]}, False),
    (MD, "date window end", D(2024, 3, 28), {"visits": [(D(2023, 8, 31), "first_service", None)]}, True),
    (MD, "date day after", D(2024, 3, 29), {"visits": [(D(2023, 8, 31), "maintenance", None)]}, False),
    (MD, "only repairs", D(2024, 2, 20), {"visits": [(D(2023, 8, 31), "repair", None)]}, False),
    (MD, "repair after L", D(2024, 2, 20), {"visits": [(D(2023, 8, 31), "maintenance", None), (D(2023, 12, 1), "repair", None)]}, False),
    (MD, "repair after as_of ignored", D(2024, 2, 20), {"visits": [(D(2023, 8, 31), "maintenance", None), (D(2024, 2, 21), "repair", None)]}, True),
    (MD, "mileage window start", D(2023, 10, 6), {"visits": [(D(2023, 7, 2), "repair", 1000), (D(2023, 8, 31), "maintenance", 13000)]}, True),
    (MD, "mileage day before", D(2023, 10, 5), {"visits": [(D(2023, 7, 2), "repair", 1000), (D(2023, 8, 31), "maintenance", 13000)]}, False),
    (MD, "mileage span 29 days: by date", D(2023, 10, 6), {"visits": [(D(2023, 8, 2), "repair", 1000), (D(2023, 8, 31), "maintenance", 13000)]}, False),
    (MD, "falling mileage: by date", D(2024, 2, 13), {"visits": [(D(2023, 7, 2), "repair", 14000), (D(2023, 8, 31), "maintenance", 13000)]}, True),
    (MD, "L without mileage: by date", D(2023, 10, 6), {"visits": [(D(2023, 7, 2), "repair", 1000), (D(2023, 8, 1), "repair", 9000), (D(2023, 8, 31), "maintenance", None)]}, False),
    (MD, "floor of mileage days", D(2023, 11, 11), {"visits": [(D(2023, 8, 1), "repair", 0), (D(2023, 8, 31), "maintenance", 7000)]}, True),
    (MD, "floor of mileage days, after", D(2023, 11, 12), {"visits": [(D(2023, 8, 1), "repair", 0), (D(2023, 8, 31), "maintenance", 7000)]}, False),
    ("insurance_renewal", "expires today", D(2024, 2, 29), {"policies": [(D(2024, 2, 29), False)]}, True),
    ("insurance_renewal", "expired yesterday", D(2024, 2, 29), {"policies": [(D(2024, 2, 28), False)]}, False),
    ("insurance_renewal", "in 60 days", D(2024, 2, 29), {"policies": [(D(2024, 4, 29), False)]}, True),
    ("insurance_renewal", "in 61 days", D(2024, 2, 29), {"policies": [(D(2024, 4, 30), False)]}, False),
    ("insurance_renewal", "renewed", D(2024, 2, 29), {"policies": [(D(2024, 3, 10), True)]}, False),
    ("insurance_renewal", "bought after as_of", D(2024, 2, 29), {"purchase": D(2024, 3, 1), "policies": [(D(2024, 3, 10), False)]}, False),
    ("lapsed_6_12", "R = as_of − 6 months", D(2024, 8, 31), {"visits": [(D(2024, 2, 29), "repair", None)]}, True),
    ("lapsed_6_12", "R a day later", D(2024, 8, 31), {"visits": [(D(2024, 3, 1), "repair", None)]}, False),
    ("lapsed_6_12", "R = as_of − 12 months", D(2024, 8, 31), {"visits": [(D(2023, 8, 31), "repair", None)]}, False),
    ("lapsed_12_24", "R = as_of − 12 months", D(2024, 8, 31), {"visits": [(D(2023, 8, 31), "repair", None)]}, True),
    ("lapsed_12_24", "R = as_of − 24 months", D(2024, 8, 31), {"purchase": D(2022, 8, 31)}, False),
    ("lapsed_24_plus", "purchase = as_of − 24 months", D(2024, 8, 31), {"purchase": D(2022, 8, 31)}, True),
    ("lapsed_24_plus", "visit after as_of ignored", D(2024, 8, 31), {"purchase": D(2021, 1, 1), "visits": [(D(2024, 9, 1), "maintenance", None)]}, True),
    ("lapsed_6_12", "non-leap clamp: 2025-08-31 − 6 m = 02-28", D(2025, 8, 31), {"visits": [(D(2025, 2, 28), "repair", None)]}, True),
    ("lapsed_6_12", "non-leap clamp, day after", D(2025, 8, 31), {"visits": [(D(2025, 3, 1), "repair", None)]}, False),
    ("declined_a", "yesterday", D(2024, 3, 1), {"visits": [(D(2024, 2, 29), "repair", None)], "items": [(0, "A", None)]}, True),
    ("declined_a", "3 days ago", D(2024, 3, 1), {"visits": [(D(2024, 2, 27), "repair", None)], "items": [(0, "A", None)]}, True),
    ("declined_a", "4 days ago", D(2024, 3, 1), {"visits": [(D(2024, 2, 26), "repair", None)], "items": [(0, "A", None)]}, False),
    ("declined_a", "today", D(2024, 3, 1), {"visits": [(D(2024, 3, 1), "repair", None)], "items": [(0, "A", None)]}, False),
    ("declined_a", "later visit", D(2024, 3, 1), {"visits": [(D(2024, 2, 27), "repair", None), (D(2024, 2, 28), "other", None)], "items": [(0, "A", None)]}, False),
    ("declined_a", "later visit after as_of ignored", D(2024, 3, 1), {"visits": [(D(2024, 2, 27), "repair", None), (D(2024, 3, 2), "other", None)], "items": [(0, "A", None)]}, True),
    ("declined_b", "due today", D(2024, 3, 1), {"visits": [(D(2024, 1, 1), "repair", None)], "items": [(0, "B", D(2024, 3, 1))]}, True),
    ("declined_b", "due in 14 days", D(2024, 3, 1), {"visits": [(D(2024, 1, 1), "repair", None)], "items": [(0, "B", D(2024, 3, 15))]}, True),
    ("declined_b", "due in 15 days", D(2024, 3, 1), {"visits": [(D(2024, 1, 1), "repair", None)], "items": [(0, "B", D(2024, 3, 16))]}, False),
    ("declined_b", "due yesterday", D(2024, 3, 1), {"visits": [(D(2024, 1, 1), "repair", None)], "items": [(0, "B", D(2024, 2, 29))]}, False),
    ("declined_b", "no due: visit + 90 = as_of", D(2024, 3, 1), {"visits": [(D(2023, 12, 2), "repair", None)], "items": [(0, "B", None)]}, True),
    ("declined_b", "no due: visit + 90 = as_of − 1", D(2024, 3, 1), {"visits": [(D(2023, 12, 1), "repair", None)], "items": [(0, "B", None)]}, False),
    ("declined_b", "no due: visit + 90 = as_of + 14", D(2024, 3, 1), {"visits": [(D(2023, 12, 16), "repair", None)], "items": [(0, "B", None)]}, True),
    ("declined_b", "no due: visit + 90 = as_of + 15", D(2024, 3, 1), {"visits": [(D(2023, 12, 17), "repair", None)], "items": [(0, "B", None)]}, False),
    ("declined_c", "12 months ago exactly", D(2024, 2, 29), {"visits": [(D(2023, 2, 28), "repair", None)], "items": [(0, "C", None)]}, False),
    ("declined_c", "a day less", D(2024, 2, 29), {"visits": [(D(2023, 3, 1), "repair", None)], "items": [(0, "C", None)]}, True),
    ("declined_c", "item of a visit after as_of", D(2024, 2, 29), {"visits": [(D(2024, 3, 1), "repair", None)], "items": [(0, "C", None)]}, False),
    ("post_service_followup", "yesterday", D(2024, 3, 1), {"visits": [(D(2024, 2, 29), "repair", None)]}, True),
    ("post_service_followup", "3 days ago", D(2024, 3, 1), {"visits": [(D(2024, 2, 27), "repair", None)]}, True),
    ("post_service_followup", "4 days ago", D(2024, 3, 1), {"visits": [(D(2024, 2, 26), "repair", None)]}, False),
    ("post_service_followup", "today", D(2024, 3, 1), {"visits": [(D(2024, 3, 1), "repair", None)]}, False),
    ("birthday", "29 Feb on 28 Feb of a common year", D(2023, 2, 28), {"birthday": D(2000, 2, 29)}, True),
    ("birthday", "29 Feb not on 28 Feb of a leap year", D(2024, 2, 28), {"birthday": D(2000, 2, 29)}, False),
    ("birthday", "29 Feb on 29 Feb", D(2024, 2, 29), {"birthday": D(2000, 2, 29)}, True),
    ("birthday", "28 Feb on 28 Feb", D(2023, 2, 28), {"birthday": D(1999, 2, 28)}, True),
    ("birthday", "other day", D(2023, 3, 1), {"birthday": D(2000, 2, 29)}, False),
]
# fmt: on


@pytest.mark.parametrize(
    ("cohort", "case_name", "as_of", "case", "expected"),
    CASES,
    ids=[f"{c[0]}: {c[1]}" for c in CASES],
)
def test_boundary(engine, cohort, case_name, as_of, case, expected) -> None:
    with Session(engine) as s:
        customer_id, vin = scenario(s, case)
        members = select_cohort(s, cohort=cohort, as_of=as_of)
        if COHORTS[cohort].reads_summary:
            summarise_through(s, as_of)
            again = select_cohort(s, cohort=cohort, as_of=as_of)
            assert [m.public() for m in again] == [m.public() for m in members]
    key = (customer_id, None if COHORTS[cohort].customer_level else vin)
    assert (key in {(m.customer_id, m.vin) for m in members}) is expected


def test_member_details(engine) -> None:
    with Session(engine) as s:
        scenario(s, {"visits": [(D(2023, 7, 2), "repair", 1000), (L, "maintenance", 13000)]})
        (m,) = select_cohort(s, cohort=MD, as_of=D(2023, 10, 6))
        assert (m.due_date, m.last_visit_date) == (D(2023, 10, 20), L)
        _, vin = scenario(
            s,
            {
                "visits": [(D(2024, 1, 1), "repair", None)],
                "items": [(0, "B", D(2024, 3, 10)), (0, "B", D(2024, 3, 5))],
            },
        )
        (m,) = select_cohort(s, cohort="declined_b", as_of=D(2024, 3, 1))
        assert m.vin == vin and len(m.item_ids) == 2 and m.due_date == D(2024, 3, 5)


def test_lapsed_member_without_visits_has_no_last_visit(engine) -> None:
    with Session(engine) as s:
        scenario(s, {"purchase": D(2021, 1, 1)})
        scenario(s, {"purchase": D(2021, 1, 1), "visits": [(D(2021, 6, 30), "repair", None)]})
        members = select_cohort(s, cohort="lapsed_24_plus", as_of=D(2024, 2, 29))
    assert sorted(m.last_visit_date or D.min for m in members) == [D.min, D(2021, 6, 30)]


def test_exclusions_can_be_kept_for_counting(engine) -> None:
    with Session(engine) as s:
        scenario(s, {"purchase": D(2024, 1, 31), "status": "scrapped"})
        assert select_cohort(s, cohort=FS, as_of=D(2024, 4, 20)) == []
        (m,) = select_cohort(s, cohort=FS, as_of=D(2024, 4, 20), exclusions=False)
        assert m.vehicle_status == "scrapped"


def test_filters(engine) -> None:
    with Session(engine) as s:
        scenario(s, {"purchase": D(2024, 1, 31)})
        as_of = D(2024, 4, 20)
        assert (
            len(select_cohort(s, cohort=FS, as_of=as_of, filters=CohortFilter(models=("Sedan",))))
            == 1
        )
        assert select_cohort(s, cohort=FS, as_of=as_of, filters=CohortFilter(models=("SUV",))) == []
        assert (
            select_cohort(s, cohort=FS, as_of=as_of, filters=CohortFilter(min_car_age_years=1))
            == []
        )
        assert select_cohort(s, cohort=FS, as_of=as_of, filters=CohortFilter(stores=("S9",))) == []


def test_unknown_cohort(engine) -> None:
    with Session(engine) as s, pytest.raises(UnknownCohortError, match="unknown cohort"):
        select_cohort(s, cohort="nobody", as_of=D(2024, 1, 1))


def test_cohort_sizes_by_store(engine) -> None:
    with Session(engine) as s:
        other = make_store(s).store_id
        for store_id in ("default", other, other):
            c = make_customer(s, store_id=store_id)
            make_vehicle(s, customer=c, purchase_date=D(2024, 1, 31))
            make_vehicle(s, customer=c, purchase_date=D(2024, 2, 1))
        s.commit()
        sizes = cohort_sizes_by_store(s, as_of=D(2024, 4, 20))
    assert set(sizes) == set(COHORTS)
    assert sizes[FS] == {"default": 2, other: 4}
    assert sizes["birthday"] == {}
