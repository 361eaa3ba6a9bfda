"""Replays: cohorts as of a day before the latest visit read the visit summary patched
(the vehicles seen after that day grouped again from their visits up to it) and agree with
SPEC's brute-force reading and with the grouped pass over every visit, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from revisit.cohorts.select import COHORTS, select_cohort
from revisit.db.tables import SUMMARY
from revisit.dms.visit_summary import (
    forget_visit_summary,
    refresh_visit_summary,
    summary_source,
)
from tests.test_cohorts import AS_OF_DATES, data_dates, load, oracle, random_dealership

D = dt.date
SUMMARY_COHORTS = [name for name, d in COHORTS.items() if d.reads_summary]


def _members(session: Session, name: str, as_of: dt.date) -> list[dict]:
    members = select_cohort(session, cohort=name, as_of=as_of)
    return sorted((m.public() for m in members), key=lambda m: (m["customer_id"], m["vin"] or ""))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replays_match_spec_and_the_grouped_pass(engine, seed: int) -> None:
    data = random_dealership(seed, around=D(2024, 2, 29))
    latest = max(x["date"] for x in data["visits"])
    days = sorted(set(AS_OF_DATES + data_dates(data, seed)))
    replays = 0
    with Session(engine) as s:
        load(s, data)
        refresh_visit_summary(s)
        s.commit()
        patched: dict[tuple[str, dt.date], list[dict]] = {}
        for as_of in days:
            source = summary_source(s, as_of)
            assert source is not None
            assert (source is SUMMARY) == (as_of >= latest)
            replays += source is not SUMMARY
            for name in SUMMARY_COHORTS:
                members = patched[name, as_of] = _members(s, name, as_of)
                got = {(m["customer_id"], m["vin"]): m.get("due_date") for m in members}
                want = oracle(data, name, as_of)
                assert got == want, (name, as_of)
        forget_visit_summary(s)  # now every cohort groups the visits themselves
        s.commit()
        for as_of in days:
            assert summary_source(s, as_of) is None
            for name in SUMMARY_COHORTS:
                assert _members(s, name, as_of) == patched[name, as_of], (name, as_of)
    assert replays >= 5


def test_replay_sees_a_vehicle_as_it_was(engine) -> None:
    """A vehicle seen after the replayed day counts by its visits up to that day: its
    purchase date when it had none, its earlier service visit when it had one."""
    data = random_dealership(4, around=D(2024, 2, 29), n=2)
    data["vehicles"][0] |= {"purchase_date": D(2020, 1, 10), "status": "active"}
    data["vehicles"][1] |= {"purchase_date": D(2019, 3, 1), "status": "active"}
    vin0, vin1 = data["vehicles"][0]["vin"], data["vehicles"][1]["vin"]
    keys = ("visit_id", "vin", "date", "type", "mileage_km")
    data["visits"] = [
        dict(zip(keys, row, strict=True))
        for row in (
            ("A1", vin0, D(2023, 6, 1), "repair", 9000),
            ("B1", vin1, D(2021, 5, 3), "maintenance", 4000),
            ("B2", vin1, D(2022, 12, 1), "maintenance", 21000),
        )
    ]
    data["items"], data["policies"], data["opt_outs"] = [], [], []
    with Session(engine) as s:
        load(s, data)
        refresh_visit_summary(s)
        s.commit()
        # on 2022-06-01 vehicle 0 had no visit (lapsed since its purchase, 29 months);
        # vehicle 1 was last seen 2021-05-03 (lapsed 12-24 months)
        on = D(2022, 6, 1)
        assert [m["vin"] for m in _members(s, "lapsed_24_plus", on)] == [vin0]
        (m,) = _members(s, "lapsed_12_24", on)
        assert (m["vin"], m["last_visit_date"]) == (vin1, D(2021, 5, 3))
        # as of the latest day: both seen since, vehicle 1 on 2022-12-01
        assert _members(s, "lapsed_24_plus", D(2024, 2, 29)) == []
        (m,) = _members(s, "lapsed_12_24", D(2024, 2, 29))
        assert (m["vin"], m["last_visit_date"]) == (vin1, D(2022, 12, 1))
