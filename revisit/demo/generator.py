"""A synthetic dealer group: the six DMS export files of the import contract, for demos,
tests and benchmarks.

The group has three stores in Quanzhou, Fujian. Every vehicle gets a life: a purchase date in
the eight years before ``as_of``, a driver with their own kilometres per day, a free first
service about 90 days after purchase, maintenance every 5-7 months or 5,000-10,000 km (when
the owner bothers to come), repairs, bodywork, warranty work and the odd car wash. Owners
drift away, rarely while the warranty (3 years) lasts and most often in the year after it ends,
so that most lost customers are lost within 4 years of purchase. Insurance policies expire on
the purchase anniversary; upsell items are graded A (replace now), B (soon) and C (watch).

A few owners are planted so that every cohort has members on ``as_of``. Output is a pure
function of (vehicles, seed, as_of): rows are generated owner by owner and streamed to disk.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from revisit.demo.catalog import (
    ADVISORS,
    CALLERS,
    CHURN_YEARS,
    GIVEN,
    INSURERS,
    ITEMS,
    MODELS,
    REGIONS,
    REMOTE_REGIONS,
    STORES,
    SURNAMES,
    TEAMS,
    Pick,
    export_phone,
    make_vin,
    mobile,
    plate,
)
from revisit.errors import RevisitError

_COLUMNS = {  # the canonical headers of the import contract, in order
    "stores.csv": "store_id name timezone phone address sms_sender callers",
    "customers.csv": "customer_id name phone birthday region store_id consent_sms language",
    "vehicles.csv": "vin customer_id plate model purchase_date status",
    "visits.csv": "visit_id vin date mileage_km type amount advisor team",
    "policies.csv": "policy_id vin expiry_date insurer renewed",
    "upsell_items.csv": "item_id visit_id vin item grade status amount due_date",
}
HEADERS: dict[str, tuple[str, ...]] = {f: tuple(c.split()) for f, c in _COLUMNS.items()}

PROGRESS_EVERY = 5000
HISTORY_DAYS = 8 * 365  # purchases spread over the eight years before as_of
WARRANTY_DAYS = 3 * 365

VISIT_TYPES = ("first_service", "maintenance", "repair", "bodywork", "warranty", "other")
FIRST, MAINT, REPAIR, BODY, WARRANTY, OTHER = range(6)
UNSCHEDULED_PER_DAY = 0.28 / 365  # repairs, bodywork, warranty and other visits
IN_WARRANTY = Pick([REPAIR, BODY, WARRANTY, OTHER], [30, 15, 35, 20])
OUT_OF_WARRANTY = Pick([REPAIR, BODY, OTHER], [55, 20, 25])
UPSELL_TYPES = frozenset((FIRST, MAINT, REPAIR))
ACCEPT = {"A": 0.72, "B": 0.38, "C": 0.12}

_FINAL_VISIT = {  # plant -> (days before as_of of the last visit: lo, hi; forced upsell grade)
    "maintenance_due": (170, 200, ""),
    "lapsed_6_12": (200, 330, ""),
    "lapsed_12_24": (400, 700, ""),
    "lapsed_24_plus": (760, 1400, ""),
    "declined_a": (1, 3, "A"),
    "declined_b": (20, 70, "B"),
    "declined_c": (30, 300, "C"),
    "post_service_followup": (1, 3, ""),
}
# Planted owners, one cohort each and each three times over, spread through the file.
PLANTS = ("first_service_due", "insurance_renewal", "birthday", *_FINAL_VISIT) * 3


class DemoError(RevisitError):
    """The demo dealership cannot be written (bad argument or unusable output folder)."""


@dataclass(frozen=True)
class DemoSummary:
    """Rows written per file."""

    stores: int
    customers: int
    vehicles: int
    visits: int
    policies: int
    upsell_items: int

    def rows_by_file(self) -> dict[str, int]:
        return {f"{name}.csv": rows for name, rows in asdict(self).items()}


def write_demo_dealership(
    outdir: Path,
    *,
    vehicles: int,
    seed: int,
    as_of: dt.date,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write the demo dealer group's CSV files into ``outdir`` (created if missing).

    ``progress`` is called with the number of vehicles done every few thousand vehicles and
    once at the end. The same arguments always give byte-identical files.
    """
    if vehicles < 1:
        raise DemoError(f"vehicles must be at least 1, got {vehicles}")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot create output folder {outdir}: {exc}") from exc
    files = {
        name: (outdir / name).open("w", encoding="utf-8", newline="", buffering=1 << 20)
        for name in HEADERS
    }
    try:
        writers = {name: csv.writer(f, lineterminator="\n") for name, f in files.items()}
        for name, header in HEADERS.items():
            writers[name].writerow(header)
        for store, callers in zip(STORES, CALLERS, strict=True):
            writers["stores.csv"].writerow((*store, ";".join(callers)))
        gen = _Dealership(random.Random(seed), as_of, writers)
        gen.run(vehicles, progress)
    finally:
        for f in files.values():
            f.close()
    return DemoSummary(
        len(STORES), gen.customers, gen.vehicles, gen.visits, gen.policies, gen.items
    )


class _Days:
    """ISO and compact strings for every day the generator can write, looked up by ordinal."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        days = [dt.date.fromordinal(o) for o in range(first, last + 1)]
        self.iso = [d.isoformat() for d in days]
        self.compact = [d.strftime("%Y%m%d") for d in days]


class _Dealership:
    """Generates owners one at a time and writes their rows as it goes."""

    def __init__(self, r: random.Random, as_of: dt.date, writers: dict[str, Any]) -> None:
        self.r = r
        self.rnd = r.random
        self.as_of = as_of
        self.a = as_of.toordinal()
        self.last = self.a - 1  # the export is taken in the morning: data up to yesterday
        self.days = _Days(self.a - HISTORY_DAYS - 800, self.a + 800)
        self.w_customers = writers["customers.csv"].writerow
        self.w_vehicles = writers["vehicles.csv"].writerow
        self.w_visits = writers["visits.csv"].writerow
        self.w_policies = writers["policies.csv"].writerow
        self.w_items = writers["upsell_items.csv"].writerow
        self.customers = self.vehicles = self.visits = self.policies = self.items = 0
        self.ro_seq: dict[int, int] = {}

    def run(self, vehicles: int, progress: Callable[[int], None] | None) -> None:
        stride = max(1, vehicles // (2 * len(PLANTS)))
        next_report = PROGRESS_EVERY
        while self.vehicles < vehicles:
            slot, rest = divmod(self.customers, stride)
            plant = PLANTS[slot] if rest == 0 and slot < len(PLANTS) else ""
            store, region = self._customer(plant)
            owned = 1 if plant else _FLEET_SIZE(self.rnd)
            for _ in range(min(owned, vehicles - self.vehicles)):
                self._vehicle(store, region, plant)
            if progress is not None and self.vehicles >= next_report:
                progress(self.vehicles)
                next_report += PROGRESS_EVERY
        if progress is not None:
            progress(self.vehicles)

    def _customer(self, plant: str) -> tuple[int, str]:
        rnd = self.rnd
        self.customers += 1
        region, store = REGIONS(rnd)
        if store < 0:
            store = int(rnd() * len(STORES))
        given = GIVEN(rnd) + (GIVEN(rnd) if rnd() < 0.7 else "")
        if plant:
            phone, consent, language = mobile(rnd, 0.0), "true", "zh"
        else:
            phone = export_phone(rnd)
            consent = "true" if rnd() < 0.93 else "false"
            language = "en" if rnd() < 0.03 else "zh"
        name, birthday = SURNAMES(rnd) + given, self._birthday(plant)
        cid = f"KH{self.customers:07d}"
        self.w_customers((cid, name, phone, birthday, region, STORES[store][0], consent, language))
        return store, region

    def _birthday(self, plant: str) -> str:
        if plant == "birthday":
            year = self.as_of.year - 25 - self.r.randrange(35)
            if self.as_of.month == 2 and self.as_of.day == 29:
                year -= year % 4  # a leap year between 1956 and 2000
            return self.as_of.replace(year=year).isoformat()
        if self.rnd() < 0.12:
            return ""
        age_days = int((22 + self.rnd() * 46) * 365.25)
        return dt.date.fromordinal(self.a - age_days).isoformat()

    def _vehicle(self, store: int, region: str, plant: str) -> None:
        rnd, r = self.rnd, self.r
        self.vehicles += 1
        kpd = min(160.0, max(6.0, r.lognormvariate(3.55, 0.45)))  # ~35 km/day
        model = MODELS(rnd)
        if plant:
            p, events, final = self._planted_life(plant, kpd)
            churn, status, attend = self.last + 1, "active", 1.0
        else:
            age = rnd() if rnd() < 0.35 else min(rnd(), rnd())  # the group sells more each year
            p = self.last - int(age * HISTORY_DAYS)
            churn = p + self._churn_age(region, model[0])
            status = self._status(p, churn)
            attend = 0.12 + 0.5 * rnd()  # how often the owner comes back for maintenance
            events = self._history(p, min(churn, self.last), kpd, attend)
            final = None
        if p < self.a - model[2] * 365:  # bought before this model was launched
            model = MODELS.items[0]
        vin = make_vin(self.vehicles, dt.date.fromordinal(p).year, model[1])
        bought = self.days.iso[p - self.days.first]
        owner = f"KH{self.customers:07d}"
        self.w_vehicles((vin, owner, plate(rnd, model[0]), model[0], bought, status))
        self._visits(vin, store, p, kpd, events, final)
        if status == "active" or p + 365 < self.a:
            self._policies(vin, p, status, churn, plant == "insurance_renewal")

    def _churn_age(self, region: str, model: str) -> int:
        """Days from purchase until the owner stops coming (a very large number: never)."""
        rnd = self.rnd
        loyal = (
            0.30 - (0.12 if region in REMOTE_REGIONS else 0) - (0.06 if model == "奔腾B50" else 0)
        )
        if rnd() < loyal:
            return 100 * 365
        return int((CHURN_YEARS(rnd) + rnd()) * 365)

    def _status(self, p: int, churn: int) -> str:
        x = self.rnd()
        if churn <= self.last and x < 0.12:
            return "sold"
        if self.a - p > 6 * 365 and x > 0.92:
            return "scrapped"
        return "active"

    def _planted_life(
        self, plant: str, kpd: float
    ) -> tuple[int, list[tuple[int, int]], tuple[int, int, str] | None]:
        """Purchase day, history and a forced last visit (day, type, upsell grade)."""
        r = self.r
        if plant == "first_service_due":
            return self.a - r.randint(76, 120), [], None
        if plant == "insurance_renewal":
            expiry = self.as_of + dt.timedelta(days=r.randint(5, 55))
            years = r.randint(1, 4)
            day = 28 if (expiry.month, expiry.day) == (2, 29) else expiry.day
            p = dt.date(expiry.year - years, expiry.month, day).toordinal()
            return p, self._history(p, self.last, kpd, 0.8), None
        lo, hi, grade = _FINAL_VISIT.get(plant, (40, 160, ""))  # birthday: a regular customer
        day = self.a - r.randint(lo, hi)
        p = day - r.randint(200, 900)
        kind = REPAIR if grade == "A" else MAINT
        return p, self._history(p, day - 1, min(kpd, 38.0), 1.0), (day, kind, grade)

    def _history(self, p: int, end: int, kpd: float, attend: float) -> list[tuple[int, int]]:
        """Visit days and types from purchase day ``p`` to ``end`` (inclusive)."""
        rnd = self.rnd
        events = []
        warranty_end = p + WARRANTY_DAYS
        day = p + 75 + int(rnd() * 40)
        if day <= end and rnd() < 0.9:  # the first service is free: nearly everyone comes
            events.append((day, FIRST))
        step = min(150 + int(rnd() * 60), int((5000 + 1000 * int(rnd() * 6)) / kpd))
        while True:
            day += step - 10 + int(rnd() * 30)
            if day > end:
                break
            if rnd() < (attend if day < warranty_end else attend * 0.4):
                events.append((day, MAINT))
        day = p
        while True:
            day += 1 + int(-math.log(1.0 - rnd()) / UNSCHEDULED_PER_DAY)
            if day > end:
                break
            events.append((day, (IN_WARRANTY if day < warranty_end else OUT_OF_WARRANTY)(rnd)))
        events.sort()
        return events

    def _visits(
        self,
        vin: str,
        store: int,
        p: int,
        kpd: float,
        events: list[tuple[int, int]],
        final: tuple[int, int, str] | None,
    ) -> None:
        rnd = self.rnd
        days, code = self.days, STORES[store][0][-2:]
        advisors, teams = ADVISORS[store], TEAMS
        mileage, prev = 8 + int(rnd() * 40), p
        if final is not None:
            events = [*events, final[:2]]
        for day, kind in events:
            if day == prev:  # one repair order per vehicle and day
                continue
            mileage += int(kpd * (day - prev) * (0.8 + 0.4 * rnd()))
            prev = day
            key = day * 8 + store
            seq = self.ro_seq[key] = self.ro_seq.get(key, 0) + 1
            visit_id = f"RO{code}{days.compact[day - days.first]}{seq:04d}"
            shown = "" if kind == OTHER and rnd() < 0.3 else str(mileage)
            team = teams[3] if kind == BODY else teams[int(rnd() * 3)]
            advisor, date = advisors[int(rnd() * len(advisors))], days.iso[day - days.first]
            amount = self._amount(kind)
            self.w_visits((visit_id, vin, date, shown, VISIT_TYPES[kind], amount, advisor, team))
            self.visits += 1
            forced = final[2] if final is not None and day == final[0] else ""
            if forced or (kind in UPSELL_TYPES and rnd() < 0.3):
                self._upsell(visit_id, vin, day, forced)

    def _amount(self, kind: int) -> str:
        rnd = self.rnd
        if kind == MAINT:
            amount = 380 + rnd() * 520
            return f"{amount * 2.3 if rnd() < 0.2 else amount:.2f}"  # every few a major service
        if kind == FIRST:
            return "0.00" if rnd() < 0.75 else f"{80 + rnd() * 220:.2f}"
        if kind == WARRANTY:
            return "0.00"
        if kind == OTHER:
            return f"{60 + rnd() * 540:.2f}"
        median = 2600.0 if kind == BODY else 800.0
        return f"{min(40000.0, max(80.0, self.r.lognormvariate(math.log(median), 0.9))):.2f}"

    def _upsell(self, visit_id: str, vin: str, day: int, forced: str) -> None:
        rnd, days = self.rnd, self.days
        count = 1 if forced or rnd() < 0.6 else (2 if rnd() < 0.75 else 3)
        for k, (item, grades, lo, hi) in enumerate(self.r.sample(ITEMS, count)):
            grade = forced if forced and k == 0 else grades(rnd)
            if forced and k == 0:
                status = "declined"
            else:
                status = "accepted" if rnd() < ACCEPT[grade] else "declined"
            due = ""
            if grade == "B":
                due_day = self.a + int(rnd() * 15) if forced == "B" else day + 30 + int(rnd() * 61)
                due = days.iso[due_day - days.first]
            self.items += 1
            amount = f"{lo + rnd() * (hi - lo):.2f}"
            self.w_items((f"ZX{self.items:08d}", visit_id, vin, item, grade, status, amount, due))

    def _policies(self, vin: str, p: int, status: str, churn: int, force_open: bool) -> None:
        """One policy per year on the purchase anniversary: the last two years and the
        current one (the first expiring on or after as_of) for vehicles still on the road."""
        rnd, days = self.rnd, self.days
        bought = dt.date.fromordinal(p)
        month, day = bought.month, bought.day
        if (month, day) == (2, 29):
            day = 28
        insurer = INSURERS(rnd)
        for year in range(max(bought.year + 1, self.as_of.year - 3), self.as_of.year + 2):
            expiry = dt.date(year, month, day).toordinal()
            if expiry < self.a - 730:
                continue
            current = expiry >= self.a
            if current and status != "active":
                break
            if current:
                soon = expiry - self.a <= 60
                renewed = soon and not force_open and rnd() < 0.2
            else:
                renewed = rnd() < (0.7 if expiry < churn else 0.15)
            self.policies += 1
            policy_id, expires = f"BD{year}{self.policies:09d}", days.iso[expiry - days.first]
            self.w_policies((policy_id, vin, expires, insurer, "true" if renewed else "false"))
            if current and not renewed:
                break
            if not renewed or rnd() < 0.2:
                insurer = INSURERS(rnd)


_FLEET_SIZE = Pick([1, 2, 3], [82, 15, 3])
