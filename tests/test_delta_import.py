"""Daily delta imports: a few repair orders into a loaded database rebuild the visit summary
rows of the vehicles they touch alone, and leave it exactly as a full rebuild would, on both
databases — new visits, a corrected latest visit, a backdated or corrected older visit, a
visit moved from one vehicle to another, a new vehicle and a corrected purchase date."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import revisit.dms.importing as importing
from revisit.db.tables import SUMMARY
from revisit.dms.importing import ImportReport, import_paths
from revisit.dms.visit_summary import refresh_visit_summary, summary_source

D = dt.date
VEHICLE_COLS = ("vin", "customer_id", "purchase_date", "status")
VISIT_COLS = ("visit_id", "vin", "date", "mileage_km", "type")
TYPES = ("first_service", "maintenance", "repair", "warranty", "other")

BASE = {
    "customers": [("C1",), ("C2",)],
    "vehicles": [
        ("V1", "C1", "2020-01-10", "active"),
        ("V2", "C1", "2019-05-01", "active"),
        ("V3", "C2", "2021-03-03", "active"),
        ("V4", "C2", "2022-07-07", "active"),  # never seen
    ],
    "visits": [
        ("R1", "V1", "2020-04-10", "3000", "first_service"),
        ("R2", "V1", "2021-01-05", "12000", "maintenance"),
        ("R3", "V1", "2021-08-20", "19000", "repair"),
        ("R4", "V2", "2019-08-01", "2500", "first_service"),
        ("R5", "V2", "2020-06-15", "", "maintenance"),
        ("R6", "V3", "2021-06-30", "4100", "first_service"),
    ],
}

# (what the day's export brings, the vehicles whose summary rows it changes)
CASES = {
    "new visits of the day": (
        {"visits": [("N1", "V2", "2022-01-04", "30000", "maintenance"),
                    ("N2", "V4", "2022-01-04", "900", "other")]},
        {"V2", "V4"},
    ),
    "the latest visit corrected": (
        {"visits": [("R3", "V1", "2021-08-21", "19500", "maintenance")]},
        {"V1"},
    ),
    "a backdated visit": (
        {"visits": [("N3", "V1", "2020-02-01", "1500", "repair")]},
        {"V1"},
    ),
    "an older visit corrected": (
        {"visits": [("R4", "V2", "2019-08-01", "2600", "first_service")]},
        {"V2"},
    ),
    "a visit moved between vehicles": (
        {"visits": [("R3", "V3", "2021-08-20", "19000", "repair")]},
        {"V1", "V3"},
    ),
    "the latest visit moved to a vehicle never seen": (
        {"visits": [("R6", "V4", "2021-06-30", "4100", "first_service")]},
        {"V3", "V4"},
    ),
    "a new vehicle with its first visit": (
        {"vehicles": [("V5", "C2", "2021-12-01", "active")],
         "visits": [("N4", "V5", "2022-03-01", "3100", "first_service")]},
        {"V5"},
    ),
    "a purchase date corrected": (
        {"vehicles": [("V4", "C2", "2022-07-08", "active")]},
        {"V4"},
    ),
    "an export already loaded": (dict(BASE), set()),
}  # fmt: skip


@pytest.fixture
def few_vehicles(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handful of vehicles: touching most of them still rebuilds theirs alone."""
    monkeypatch.setattr(importing, "INCREMENTAL_MAX_SHARE", 1.0)


def write(folder: Path, files: dict[str, list[tuple[str, ...]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    headers = {"customers": ("customer_id", "name", "phone"), "vehicles": VEHICLE_COLS}
    headers |= {"visits": VISIT_COLS}
    for name, rows in files.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(headers[name])
            out.writerows(rows if name != "customers" else [(r[0], r[0], "") for r in rows])
    return folder


def load(engine: Engine, folder: Path) -> ImportReport:
    report = import_paths(engine, [folder])
    assert not report.failed(), report.file_errors
    return report


ROWS = text("SELECT * FROM vehicle_visit_summary ORDER BY vin")


def summary(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(ROWS)]


def rebuilt(engine: Engine) -> list[tuple]:
    """The summary a full rebuild gives (in a transaction rolled back)."""
    with engine.connect() as conn:
        refresh_visit_summary(conn)
        rows = [tuple(r) for r in conn.execute(ROWS)]
        conn.rollback()
    return rows


def assert_current(engine: Engine, latest: dt.date) -> None:
    with engine.connect() as conn:
        assert summary_source(conn, latest) is SUMMARY


@pytest.mark.usefixtures("few_vehicles")
@pytest.mark.parametrize("case", list(CASES))
def test_a_delta_rebuilds_the_touched_vehicles_alone(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    delta, touched = CASES[case]
    first = load(engine, write(tmp_path / "base", BASE))
    assert first.summary_rebuilt == 4  # the first import: all of it
    before = dict((r[0], r) for r in summary(engine))
    report = load(engine, write(tmp_path / "delta", delta))
    assert report.summary_rebuilt == len(touched)  # the rows of the touched vehicles alone
    after = summary(engine)
    assert after == rebuilt(engine)
    changed = {r[0] for r in after if before.get(r[0]) != r}
    assert changed <= touched
    assert_current(engine, D(2022, 12, 31))


@pytest.mark.usefixtures("few_vehicles")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_deltas_equal_a_full_rebuild(engine: Engine, tmp_path: Path, seed: int) -> None:
    """Day after day of random repair orders and corrections: after each, the summary is
    the one a full rebuild gives."""
    r = random.Random(seed)
    vins = [f"V{i}" for i in range(40)]
    bought = [D(2018, 1, 1) + dt.timedelta(days=r.randint(0, 900)) for _ in vins]
    vehicles = [(v, "C1", b.isoformat(), "active") for v, b in zip(vins, bought, strict=True)]
    visits: dict[str, tuple[str, ...]] = {}

    def visit(visit_id: str) -> tuple[str, ...]:
        day = D(2019, 1, 1) + dt.timedelta(days=r.randint(0, 1400))
        km = "" if r.random() < 0.2 else str(r.randint(100, 90000))
        return (visit_id, r.choice(vins), day.isoformat(), km, r.choice(TYPES))

    for n in range(120):
        visits[f"R{n}"] = visit(f"R{n}")
    base = {"customers": [("C1",)], "vehicles": vehicles, "visits": list(visits.values())}
    load(engine, write(tmp_path / "base", base))
    assert summary(engine) == rebuilt(engine)
    for day in range(4):
        delta = [visit(f"D{day}-{n}") for n in range(r.randint(1, 6))]
        for old in r.sample(sorted(visits), 4):  # corrections: date, mileage, type or vehicle
            row = list(visits[old])
            changed = visit(old)
            k = r.randrange(1, 5)
            row[k] = changed[k]
            delta.append(tuple(row))
        for row in delta:
            visits[row[0]] = row
        files = {"visits": delta}
        if day == 2:  # a purchase date corrected, a new vehicle
            files["vehicles"] = [
                (vins[0], "C1", "2017-06-01", "active"),
                ("VX", "C1", "2020-02-02", "active"),
            ]
        report = load(engine, write(tmp_path / f"day{day}", files))
        assert report.summary_rebuilt is not None and report.summary_rebuilt <= 12
        assert summary(engine) == rebuilt(engine), day


def test_a_large_change_rebuilds_all_of_it(engine: Engine, tmp_path: Path) -> None:
    load(engine, write(tmp_path / "base", BASE))
    moved = [(v[0], "V4", *v[2:]) for v in BASE["visits"]]  # every visit to one vehicle
    report = load(engine, write(tmp_path / "delta", {"visits": moved}))
    assert report.summary_rebuilt == 4  # all four touched (over a fifth): all of it
    assert summary(engine) == rebuilt(engine)
