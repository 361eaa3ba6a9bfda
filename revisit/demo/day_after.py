"""The demo's "day after": one day's repair orders, as a DMS's daily export brings them.

A share of the stored visits (:data:`DAY_SHARE`, 1% by default: a busy day of a large dealer
group) become new repair orders of ``day``, one per vehicle, for active vehicles bought
before it; their mileage follows each vehicle's last reading. About a third of the
maintenance and repair orders carry an upsell item. Beside them come the corrections a
daily export also holds, :data:`CORRECTIONS` of each per hundred new orders: the latest
visit of a vehicle re-sent with its mileage corrected, a repair order entered late (dated
30 to 400 days back) and a visit moved to the vehicle it really belonged to (a VIN keyed
wrong). The files import with ``revisit import`` and exercise the visit summary's
incremental refresh.

Output is a pure function of the database's vehicles and visits, the seed, the day and the
share.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from revisit.db.engine import chunked
from revisit.db.tables import SUMMARY, VEHICLES, VISITS
from revisit.demo.catalog import ADVISORS, ITEMS, TEAMS
from revisit.demo.generator import HEADERS, DemoError

DAY_SHARE = 0.01
CORRECTIONS = 1  # of each kind, per hundred new orders (at least one each)
KM_PER_DAY = 35
KINDS = ("maintenance", "repair", "bodywork", "warranty", "other")
WEIGHTS = (55, 25, 8, 7, 5)
AMOUNTS = {"maintenance": (380, 1200), "repair": (600, 4800), "bodywork": (900, 6800)}
ITEM_SHARE = 0.3
VISIT_COLUMNS = HEADERS["visits.csv"]


@dataclass
class DayExport:
    """The day's rows: ``visits`` (columns of ``visits.csv``) and ``items`` (of
    ``upsell_items.csv``); ``corrected`` counts the rows that change a stored visit."""

    visits: list[tuple[str, ...]] = field(default_factory=list)
    items: list[tuple[str, ...]] = field(default_factory=list)
    corrected: int = 0


def day_export(engine: Engine, *, day: dt.date, seed: int, share: float = DAY_SHARE) -> DayExport:
    """The repair orders of ``day`` for the dealer group in ``engine`` (see the module doc).

    Raises :class:`DemoError` when ``share`` is not in (0, 1] or no vehicle was bought
    before ``day``."""
    if not 0 < share <= 1:
        raise DemoError(f"share must be above 0 and at most 1, got {share}")
    r = random.Random(f"day-after:{seed}:{day.isoformat()}:{share}")
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(VISITS)).scalar_one()
        vins = list(
            conn.execute(
                select(VEHICLES.c.vin)
                .where(VEHICLES.c.status == "active", VEHICLES.c.purchase_date < day)
                .order_by(VEHICLES.c.vin)
            ).scalars()
        )
        if not vins:
            raise DemoError(f"no active vehicle bought before {day}: import a dealer group first")
        orders = min(len(vins), max(1, round(stored * share)))
        fixes = 3 * max(1, orders * CORRECTIONS // 100)  # of the three kinds in turn
        chosen = r.sample(vins, min(len(vins), orders + 2 * fixes))
        today, others = chosen[:orders], chosen[orders:]
        readings = _readings(conn, today)
        history = _latest_visits(conn, others)
    out = DayExport()
    stamp = f"{day:%Y%m%d}"
    for n, vin in enumerate(today, start=1):
        out.visits.append(_order(r, f"RD{stamp}{n:06d}", vin, day, readings.get(vin)))
        kind = out.visits[-1][4]
        if kind in ("maintenance", "repair") and r.random() < ITEM_SHARE:
            out.items.append(_item(r, f"ZD{stamp}{len(out.items) + 1:06d}", out.visits[-1], day))
    out.corrected = _corrections(r, out, history, others, day, stamp, fixes)
    return out


def _corrections(
    r: random.Random,
    out: DayExport,
    history: dict[str, tuple[str, ...]],
    others: Sequence[str],
    day: dt.date,
    stamp: str,
    fixes: int,
) -> int:
    """Up to ``fixes`` corrections: a mileage, a late repair order and a moved visit, in
    turn, each of another vehicle's latest visit; the count."""
    done = 0
    for latest in (history[vin] for vin in others if vin in history):
        row, kind = list(latest), done % 3
        if kind == 0 and row[3]:  # a mileage keyed wrong
            row[3] = str(int(row[3]) + r.choice((-1, 1)) * r.randint(100, 900))
        elif kind == 1:  # a repair order entered late, for this vehicle
            late = day - dt.timedelta(days=r.randint(30, 400))
            row = list(_order(r, f"RL{stamp}{done:06d}", row[1], late, None))
        elif kind == 2 and (other := r.choice(others)) != row[1]:  # another vehicle's visit
            row[1] = other
        else:
            continue
        out.visits.append(tuple(row))
        done += 1
        if done == fixes:
            break
    return done


def _readings(conn: Connection, vins: Sequence[str]) -> dict[str, tuple[dt.date, int]]:
    """Each vehicle's last mileage reading (date, km), from the visit summary."""
    s = SUMMARY.c
    found: dict[str, tuple[dt.date, int]] = {}
    for chunk in chunked(sorted(vins), 5000):
        query = select(s.vin, s.last_km_date, s.last_km).where(
            s.vin.in_(chunk), s.last_km.is_not(None)
        )
        found.update({vin: (d, km) for vin, d, km in conn.execute(query)})
    return found


def _latest_visits(conn: Connection, vins: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each vehicle's latest visit as a row of ``visits.csv`` (values as text)."""
    v = VISITS.c
    latest: dict[str, tuple[str, ...]] = {}
    for chunk in chunked(sorted(vins), 5000):
        query = select(*(v[c] for c in VISIT_COLUMNS)).where(v.vin.in_(chunk))
        for row in conn.execute(query.order_by(v.vin, v.date, v.visit_id)):
            latest[row.vin] = tuple("" if x is None else str(x) for x in row)
    return latest


def _order(
    r: random.Random, visit_id: str, vin: str, day: dt.date, reading: tuple[dt.date, int] | None
) -> tuple[str, ...]:
    kind = r.choices(KINDS, WEIGHTS)[0]
    km = ""
    if reading is not None and reading[0] < day:
        driven = (day - reading[0]).days * KM_PER_DAY * (0.6 + 0.8 * r.random())
        km = str(reading[1] + int(driven))
    lo, hi = AMOUNTS.get(kind, (0, 600))
    amount = "0.00" if kind == "warranty" else f"{r.randint(lo, hi)}.00"
    advisor = r.choice(ADVISORS[r.randrange(len(ADVISORS))])
    team = TEAMS[3] if kind == "bodywork" else r.choice(TEAMS[:3])
    return (visit_id, vin, day.isoformat(), km, kind, amount, advisor, team)


def _item(r: random.Random, item_id: str, visit: tuple[str, ...], day: dt.date) -> tuple[str, ...]:
    item, grades, lo, hi = r.choice(ITEMS)
    grade = grades(r.random)
    status = "declined" if r.random() < 0.6 else "accepted"
    due = (day + dt.timedelta(days=r.randint(30, 90))).isoformat() if grade == "B" else ""
    return (item_id, visit[0], visit[1], item, grade, status, f"{r.uniform(lo, hi):.2f}", due)


def write_day_after(
    engine: Engine, outdir: Path, *, day: dt.date, seed: int, share: float = DAY_SHARE
) -> DayExport:
    """Write the day's ``visits.csv`` and ``upsell_items.csv`` into ``outdir`` (created if
    missing) and return what they hold."""
    export = day_export(engine, day=day, seed=seed, share=share)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot create output folder {outdir}: {exc}") from exc
    for name, rows in (("visits.csv", export.visits), ("upsell_items.csv", export.items)):
        with (outdir / name).open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(HEADERS[name])
            out.writerows(rows)
    return export
