"""The synthetic demo dealer group: files, integrity, realism and a member in every cohort."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from typer.testing import CliRunner

from revisit.cli import app
from revisit.demo.catalog import vin_check_digit
from revisit.demo.generator import DemoError, DemoSummary, write_demo_dealership

AS_OF = dt.date(2025, 6, 15)
N = 2000

SPEC_HEADERS = {
    "stores.csv": ["store_id", "name", "timezone", "phone", "address", "sms_sender", "callers"],
    "customers.csv": [
        "customer_id",
        "name",
        "phone",
        "birthday",
        "region",
        "store_id",
        "consent_sms",
        "language",
    ],
    "vehicles.csv": ["vin", "customer_id", "plate", "model", "purchase_date", "status"],
    "visits.csv": [
        "visit_id",
        "vin",
        "date",
        "mileage_km",
        "type",
        "amount",
        "advisor",
        "team",
    ],
    "policies.csv": ["policy_id", "vin", "expiry_date", "insurer", "renewed"],
    "upsell_items.csv": [
        "item_id",
        "visit_id",
        "vin",
        "item",
        "grade",
        "status",
        "amount",
        "due_date",
    ],
}

MOBILE = re.compile(r"^(\+?86)?1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def phone_kind(raw: str) -> str:
    digits = re.sub(r"[\s-]", "", raw)
    if MOBILE.match(digits):
        return "mobile"
    return "landline" if LANDLINE.match(raw) else "malformed"


@dataclass
class Demo:
    summary: DemoSummary
    rows: dict[str, list[dict[str, str]]]

    def by_vin(self, name: str) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in self.rows[name]:
            out[row["vin"]].append(row)
        return out


def read_demo(folder: Path) -> dict[str, list[dict[str, str]]]:
    rows = {}
    for name in SPEC_HEADERS:
        with (folder / name).open(encoding="utf-8", newline="") as f:
            rows[name] = list(csv.DictReader(f))
    return rows


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    summary = write_demo_dealership(folder, vehicles=N, seed=7, as_of=AS_OF)
    return Demo(summary, read_demo(folder))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in SPEC_HEADERS}


def test_same_arguments_give_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_demo_dealership(tmp_path / name, vehicles=500, seed=seed, as_of=AS_OF)
    a, b, c = (files_bytes(tmp_path / name) for name in "abc")
    assert a == b
    assert a["visits.csv"] != c["visits.csv"]
    assert a["customers.csv"] != c["customers.csv"]


def test_headers_are_the_canonical_ones_in_utf8_without_bom(tmp_path: Path) -> None:
    write_demo_dealership(tmp_path, vehicles=50, seed=1, as_of=AS_OF)
    for name, header in SPEC_HEADERS.items():
        raw = (tmp_path / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        first_line = raw.decode("utf-8").splitlines()[0]
        assert first_line.split(",") == header, name


def test_summary_counts_the_rows_written(demo: Demo) -> None:
    for name, rows in demo.summary.rows_by_file().items():
        assert rows == len(demo.rows[name]), name
    assert demo.summary.vehicles == N


@pytest.mark.parametrize("vehicles", [1, 7, 33])
def test_tiny_groups_have_exactly_the_vehicles_asked_for(tmp_path: Path, vehicles: int) -> None:
    summary = write_demo_dealership(tmp_path, vehicles=vehicles, seed=7, as_of=AS_OF)
    assert summary.vehicles == vehicles
    assert len(read_demo(tmp_path)["vehicles.csv"]) == vehicles


def test_ids_are_unique_and_references_resolve(demo: Demo) -> None:
    stores = {r["store_id"] for r in demo.rows["stores.csv"]}
    customers = {r["customer_id"]: r for r in demo.rows["customers.csv"]}
    vehicles = {r["vin"]: r for r in demo.rows["vehicles.csv"]}
    visits = {r["visit_id"]: r for r in demo.rows["visits.csv"]}
    assert 2 <= len(stores) <= 3
    assert len(customers) == len(demo.rows["customers.csv"])
    assert len(vehicles) == len(demo.rows["vehicles.csv"])
    assert len(visits) == len(demo.rows["visits.csv"])
    assert len({r["policy_id"] for r in demo.rows["policies.csv"]}) == len(
        demo.rows["policies.csv"]
    )
    assert all(c["store_id"] in stores for c in customers.values())
    assert all(v["customer_id"] in customers for v in vehicles.values())
    assert all(v["vin"] in vehicles for v in visits.values())
    assert all(p["vin"] in vehicles for p in demo.rows["policies.csv"])
    for item in demo.rows["upsell_items.csv"]:
        assert visits[item["visit_id"]]["vin"] == item["vin"]


def test_vins_look_real(demo: Demo) -> None:
    for row in demo.rows["vehicles.csv"]:
        vin = row["vin"]
        assert len(vin) == 17 and not set(vin) & set("IOQ"), vin
        assert vin[8] == vin_check_digit(vin[:8] + vin[9:]), vin


def test_nothing_happens_after_as_of(demo: Demo) -> None:
    assert max(day(v["purchase_date"]) for v in demo.rows["vehicles.csv"]) <= AS_OF
    assert max(day(v["date"]) for v in demo.rows["visits.csv"]) <= AS_OF
    purchases = {v["vin"]: day(v["purchase_date"]) for v in demo.rows["vehicles.csv"]}
    assert all(day(v["date"]) > purchases[v["vin"]] for v in demo.rows["visits.csv"])
    oldest = min(purchases.values())
    assert AS_OF - dt.timedelta(days=8 * 366) <= oldest < AS_OF - dt.timedelta(days=7 * 365)


def test_phones_include_landlines_and_malformed_values_like_real_exports(demo: Demo) -> None:
    kinds = Counter(phone_kind(c["phone"]) for c in demo.rows["customers.csv"])
    total = sum(kinds.values())
    assert 0.003 < kinds["landline"] / total < 0.03
    assert 0.003 < kinds["malformed"] / total < 0.03
    styles = {c["phone"][:3] for c in demo.rows["customers.csv"]}
    assert "+86" in styles
    assert any(re.fullmatch(r"1\d{2}-\d{4}-\d{4}", c["phone"]) for c in demo.rows["customers.csv"])


def test_customers_look_like_a_quanzhou_dealer(demo: Demo) -> None:
    customers = demo.rows["customers.csv"]
    assert 1.1 <= N / len(customers) <= 1.3
    assert all(2 <= len(c["name"]) <= 4 for c in customers)
    assert {"鲤城区", "丰泽区", "晋江市", "南安市", "安溪县"} <= {c["region"] for c in customers}
    langs = Counter(c["language"] for c in customers)
    assert langs["en"] > 0 and langs["zh"] > 0.9 * len(customers)
    consent = Counter(c["consent_sms"] for c in customers)
    assert consent["false"] > 0 and consent["true"] > 0.85 * len(customers)
    assert 0 < sum(1 for c in customers if not c["birthday"]) < 0.25 * len(customers)


def test_fleet_statuses_and_visit_mix(demo: Demo) -> None:
    statuses = Counter(v["status"] for v in demo.rows["vehicles.csv"])
    assert statuses["sold"] > 0 and statuses["scrapped"] > 0
    assert statuses["active"] > 0.85 * N
    types = Counter(v["type"] for v in demo.rows["visits.csv"])
    assert set(types) == {"first_service", "maintenance", "repair", "bodywork", "warranty", "other"}
    assert 2.5 <= len(demo.rows["visits.csv"]) / N <= 3.5
    assert all(float(v["amount"]) == 0 for v in demo.rows["visits.csv"] if v["type"] == "warranty")


def test_upsell_items_have_every_grade_and_both_statuses(demo: Demo) -> None:
    items = demo.rows["upsell_items.csv"]
    by_grade = Counter((i["grade"], i["status"]) for i in items)
    for grade in "ABC":
        assert by_grade[grade, "accepted"] > 0 and by_grade[grade, "declined"] > 0

    def accept_rate(g: str) -> float:
        return by_grade[g, "accepted"] / (by_grade[g, "accepted"] + by_grade[g, "declined"])

    assert accept_rate("A") > accept_rate("B") > accept_rate("C")
    assert all(bool(i["due_date"]) == (i["grade"] == "B") for i in items)


def test_mileage_never_goes_down(demo: Demo) -> None:
    for vin, visits in demo.by_vin("visits.csv").items():
        miles = [
            int(v["mileage_km"]) for v in sorted(visits, key=lambda v: v["date"]) if v["mileage_km"]
        ]
        assert miles == sorted(miles), vin
        assert len({v["date"] for v in visits}) == len(visits), vin


def test_policies_expire_on_the_purchase_anniversary(demo: Demo) -> None:
    purchases = {v["vin"]: day(v["purchase_date"]) for v in demo.rows["vehicles.csv"]}
    for p in demo.rows["policies.csv"]:
        bought, expiry = purchases[p["vin"]], day(p["expiry_date"])
        assert (expiry.month, expiry.day) in {(bought.month, bought.day), (2, 28)}
    active = {v["vin"] for v in demo.rows["vehicles.csv"] if v["status"] == "active"}
    current = {p["vin"] for p in demo.rows["policies.csv"] if day(p["expiry_date"]) >= AS_OF}
    assert current == active


def members(demo: Demo, as_of: dt.date) -> dict[str, set[str]]:
    """Each cohort of the spec, by plain Python, over vehicles that are still active."""
    vehicles = {v["vin"]: v for v in demo.rows["vehicles.csv"] if v["status"] == "active"}
    visits, items = demo.by_vin("visits.csv"), demo.by_vin("upsell_items.csv")
    out: dict[str, set[str]] = defaultdict(set)
    for vin, vehicle in vehicles.items():
        bought = day(vehicle["purchase_date"])
        history = sorted(visits.get(vin, []), key=lambda v: v["date"])
        last = day(history[-1]["date"]) if history else bought
        if not history and -14 <= (as_of - bought).days - 90 <= 30:
            out["first_service_due"].add(vin)
        elif last <= as_of - relativedelta(months=24):
            out["lapsed_24_plus"].add(vin)
        elif last <= as_of - relativedelta(months=12):
            out["lapsed_12_24"].add(vin)
        elif last <= as_of - relativedelta(months=6):
            out["lapsed_6_12"].add(vin)
        if history and maintenance_due(history, as_of):
            out["maintenance_due"].add(vin)
        if history and 1 <= (as_of - last).days <= 3:
            out["post_service_followup"].add(vin)
        for item in items.get(vin, []):
            seen = next(day(v["date"]) for v in history if v["visit_id"] == item["visit_id"])
            if item["status"] != "declined" or seen != last:
                continue
            due = day(item["due_date"]) if item["due_date"] else seen + dt.timedelta(days=90)
            if (
                (item["grade"] == "A" and 1 <= (as_of - seen).days <= 3)
                or (item["grade"] == "B" and 0 <= (due - as_of).days <= 14)
                or (item["grade"] == "C" and seen > as_of - relativedelta(months=12))
            ):
                out[f"declined_{item['grade'].lower()}"].add(vin)
    for p in demo.rows["policies.csv"]:
        soon = 0 <= (day(p["expiry_date"]) - as_of).days <= 60
        if soon and p["vin"] in vehicles and p["renewed"] == "false":
            out["insurance_renewal"].add(p["vin"])
    for c in demo.rows["customers.csv"]:
        if c["birthday"] and birthday_on(day(c["birthday"]), as_of):
            out["birthday"].add(c["customer_id"])
    return out


def birthday_on(born: dt.date, as_of: dt.date) -> bool:
    month_day = (born.month, born.day)
    if month_day == (2, 29) and not calendar.isleap(as_of.year):
        month_day = (2, 28)
    return month_day == (as_of.month, as_of.day)


def maintenance_due(history: list[dict[str, str]], as_of: dt.date) -> bool:
    services = [v for v in history if v["type"] in ("first_service", "maintenance")]
    if not services or services[-1] is not history[-1]:
        return False
    latest = services[-1]
    due = day(latest["date"]) + dt.timedelta(days=180)
    read = [v for v in history if v["mileage_km"]]
    if latest["mileage_km"] and len(read) >= 2:
        days = (day(read[-1]["date"]) - day(read[0]["date"])).days
        km = int(read[-1]["mileage_km"]) - int(read[0]["mileage_km"])
        if days >= 30 and km > 0:
            by_km = day(latest["date"]) + dt.timedelta(days=int(10_000 // (km / days)))
            due = min(due, by_km)
    return -14 <= (as_of - due).days <= 30


COHORTS = (
    *("first_service_due", "maintenance_due", "insurance_renewal", "post_service_followup"),
    *("lapsed_6_12", "lapsed_12_24", "lapsed_24_plus", "declined_a", "declined_b", "declined_c"),
    "birthday",
)


@pytest.mark.parametrize("as_of", [AS_OF, dt.date(2024, 2, 29), dt.date(2023, 12, 31)])
def test_every_cohort_has_members_on_as_of(tmp_path: Path, as_of: dt.date) -> None:
    write_demo_dealership(tmp_path, vehicles=500, seed=11, as_of=as_of)
    found = members(Demo(DemoSummary(0, 0, 0, 0, 0, 0), read_demo(tmp_path)), as_of)
    assert {name: len(found[name]) > 0 for name in COHORTS} == dict.fromkeys(COHORTS, True)


def test_large_cohorts_are_filled_by_the_fleet_itself(demo: Demo) -> None:
    found = members(demo, AS_OF)
    for name in ("insurance_renewal", "lapsed_6_12", "lapsed_12_24", "lapsed_24_plus"):
        assert len(found[name]) > 0.04 * N, name


def test_progress_reports_every_few_thousand_vehicles(tmp_path: Path) -> None:
    seen: list[int] = []
    write_demo_dealership(tmp_path, vehicles=10_001, seed=7, as_of=AS_OF, progress=seen.append)
    assert seen[-1] == 10_001
    assert seen == sorted(seen) and len(seen) == 3


def test_zero_vehicles_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="at least 1"):
        write_demo_dealership(tmp_path, vehicles=0, seed=7, as_of=AS_OF)


def test_cli_writes_the_files_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo-data", str(out), "--vehicles", "300", "--seed", "5", "--as-of", "2025-06-15"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "visits.csv" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(SPEC_HEADERS)
    expected = tmp_path / "expected"
    write_demo_dealership(expected, vehicles=300, seed=5, as_of=AS_OF)
    assert files_bytes(out) == files_bytes(expected)


def test_cli_refuses_zero_vehicles_and_bad_dates(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["demo-data", str(tmp_path), "--vehicles", "0"]).exit_code == 2
    assert runner.invoke(app, ["demo-data", str(tmp_path), "--as-of", "15/06/2025"]).exit_code == 2
