# ruff: noqa: E501  (the boundary tables read best one case per line)
"""The customer-care touchpoints: new-car 7DC and care, active customers for greetings and
seasonal offers, repeat repairs — boundary tables on both databases, the members' own
fields, and the cohort filters on customer-level cohorts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session

from revisit.cohorts.select import CohortFilter, select_cohort
from revisit.dms.visit_summary import refresh_visit_summary
from tests.factories import make_customer, make_vehicle, make_visit
from tests.test_cohorts import scenario, summarise_through

D = dt.date

# delivered 2024-01-31: 7DC window 2024-02-07 … 2024-02-09; care window 2024-02-21 … 2024-02-28
BOUGHT = D(2024, 1, 31)
# fmt: off
CASES: list[tuple[str, str, dt.date, dict[str, Any], bool]] = [
    ("new_car_7dc", "day 6", D(2024, 2, 6), {"purchase": BOUGHT}, False),
    ("new_car_7dc", "day 7: window start", D(2024, 2, 7), {"purchase": BOUGHT}, True),
    ("new_car_7dc", "day 9: window end", D(2024, 2, 9), {"purchase": BOUGHT}, True),
    ("new_car_7dc", "day 10", D(2024, 2, 10), {"purchase": BOUGHT}, False),
    ("new_car_7dc", "across a leap day: 2024-02-23 + 7", D(2024, 3, 1), {"purchase": D(2024, 2, 23)}, True),
    ("new_car_7dc", "month end: 2023-02-28 + 9 = 03-09", D(2023, 3, 9), {"purchase": D(2023, 2, 28)}, True),
    ("new_car_7dc", "sold already", D(2024, 2, 8), {"purchase": BOUGHT, "status": "sold"}, False),
    ("new_car_7dc", "do not contact", D(2024, 2, 8), {"purchase": BOUGHT, "opt_out": True}, False),
    ("new_car_7dc", "a visit does not matter", D(2024, 2, 8), {"purchase": BOUGHT, "visits": [(D(2024, 2, 5), "repair", 300)]}, True),
    ("new_car_care", "day 20", D(2024, 2, 20), {"purchase": BOUGHT}, False),
    ("new_car_care", "day 21: window start", D(2024, 2, 21), {"purchase": BOUGHT}, True),
    ("new_car_care", "day 28: window end (leap year)", D(2024, 2, 28), {"purchase": BOUGHT}, True),
    ("new_car_care", "day 29: the leap day is one day too late", D(2024, 2, 29), {"purchase": BOUGHT}, False),
    ("new_car_care", "month end of a common year: 2023-01-31 + 28", D(2023, 2, 28), {"purchase": D(2023, 1, 31)}, True),
    ("new_car_care", "first service already done", D(2024, 2, 25), {"purchase": BOUGHT, "visits": [(D(2024, 2, 20), "first_service", 2100)]}, False),
    ("new_car_care", "a repair is not the first service", D(2024, 2, 25), {"purchase": BOUGHT, "visits": [(D(2024, 2, 20), "repair", 2100)]}, True),
    ("new_car_care", "first service after as_of ignored", D(2024, 2, 25), {"purchase": BOUGHT, "visits": [(D(2024, 2, 26), "first_service", 2100)]}, True),
    ("new_car_care", "scrapped", D(2024, 2, 25), {"purchase": BOUGHT, "status": "scrapped"}, False),
    ("active_customers", "bought 23 months ago, never seen", D(2024, 8, 31), {"purchase": D(2022, 9, 30)}, True),
    ("active_customers", "bought 24 months ago to the day", D(2024, 8, 31), {"purchase": D(2022, 8, 31)}, False),
    ("active_customers", "visited a day after as_of − 24 months", D(2024, 8, 31), {"purchase": D(2018, 1, 1), "visits": [(D(2022, 9, 1), "repair", None)]}, True),
    ("active_customers", "visited on as_of − 24 months", D(2024, 8, 31), {"purchase": D(2018, 1, 1), "visits": [(D(2022, 8, 31), "maintenance", None)]}, False),
    ("active_customers", "month-end clamp: 2025-02-28 − 24 months = 2023-02-28", D(2025, 2, 28), {"purchase": D(2018, 1, 1), "visits": [(D(2023, 3, 1), "repair", None)]}, True),
    ("active_customers", "month-end clamp, on the bound", D(2025, 2, 28), {"purchase": D(2018, 1, 1), "visits": [(D(2023, 2, 28), "repair", None)]}, False),
    ("active_customers", "the only vehicle sold", D(2024, 8, 31), {"purchase": D(2024, 1, 1), "status": "sold"}, False),
    ("active_customers", "bought after as_of", D(2024, 8, 31), {"purchase": D(2024, 9, 1)}, False),
    ("active_customers", "visit after as_of ignored", D(2024, 8, 31), {"purchase": D(2018, 1, 1), "visits": [(D(2024, 9, 1), "repair", None)]}, False),
    ("active_customers", "do not contact", D(2024, 8, 31), {"purchase": D(2024, 1, 1), "opt_out": True}, False),
    ("repeat_repair", "second repair yesterday, 30 days after the first", D(2024, 3, 1), {"visits": [(D(2024, 1, 30), "repair", None), (D(2024, 2, 29), "repair", None)]}, True),
    ("repeat_repair", "31 days apart", D(2024, 3, 1), {"visits": [(D(2024, 1, 29), "repair", None), (D(2024, 2, 29), "repair", None)]}, False),
    ("repeat_repair", "warranty then repair", D(2024, 3, 1), {"visits": [(D(2024, 2, 10), "warranty", None), (D(2024, 2, 29), "repair", None)]}, True),
    ("repeat_repair", "two orders the same day", D(2024, 3, 1), {"visits": [(D(2024, 2, 29), "repair", None), (D(2024, 2, 29), "warranty", None)]}, True),
    ("repeat_repair", "second repair today: raised tomorrow", D(2024, 3, 1), {"visits": [(D(2024, 2, 20), "repair", None), (D(2024, 3, 1), "repair", None)]}, False),
    ("repeat_repair", "second repair two days ago: raised yesterday, once", D(2024, 3, 1), {"visits": [(D(2024, 2, 20), "repair", None), (D(2024, 2, 28), "repair", None)]}, False),
    ("repeat_repair", "a maintenance between does not count", D(2024, 3, 1), {"visits": [(D(2024, 2, 20), "maintenance", None), (D(2024, 2, 29), "repair", None)]}, False),
    ("repeat_repair", "bodywork does not count", D(2024, 3, 1), {"visits": [(D(2024, 2, 20), "bodywork", None), (D(2024, 2, 29), "repair", None)]}, False),
    ("repeat_repair", "a single repair", D(2024, 3, 1), {"visits": [(D(2024, 2, 29), "repair", None)]}, False),
    ("repeat_repair", "month end: 2023-01-31 and 2023-02-28 (28 days)", D(2023, 3, 1), {"visits": [(D(2023, 1, 31), "repair", None), (D(2023, 2, 28), "repair", None)]}, True),
    ("repeat_repair", "sold vehicle", D(2024, 3, 1), {"status": "sold", "visits": [(D(2024, 2, 20), "repair", None), (D(2024, 2, 29), "repair", None)]}, False),
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
        if cohort == "active_customers":  # the visit summary gives the same answer
            summarise_through(s, as_of)
            again = select_cohort(s, cohort=cohort, as_of=as_of)
            assert [m.public() for m in again] == [m.public() for m in members]
    key = (customer_id, None if cohort == "active_customers" else vin)
    assert (key in {(m.customer_id, m.vin) for m in members}) is expected


def test_new_car_members_carry_the_dates_the_texts_name(engine) -> None:
    with Session(engine) as s:
        scenario(s, {"purchase": BOUGHT})
        (seven,) = select_cohort(s, cohort="new_car_7dc", as_of=D(2024, 2, 8))
        (care,) = select_cohort(s, cohort="new_car_care", as_of=D(2024, 2, 25))
        (km,) = select_cohort(
            s,
            cohort="new_car_care",
            as_of=D(2024, 2, 25),
            params={"first_service_days": 60, "first_service_km": 3000},
        )
    assert seven.due_date == D(2024, 2, 7)  # the call is due a week after delivery
    assert (care.due_date, care.due_km) == (D(2024, 4, 30), 5000)  # first service: +90 d
    assert (km.due_date, km.due_km) == (D(2024, 3, 31), 3000)
    assert care.public()["due_km"] == 5000


def test_repeat_repair_member_lists_the_visits_of_the_case(engine) -> None:
    with Session(engine) as s:
        _, vin = scenario(
            s,
            {
                "visits": [
                    (D(2024, 1, 10), "repair", None),  # 50 days before: not in the case
                    (D(2024, 2, 5), "warranty", None),
                    (D(2024, 2, 20), "repair", None),
                    (D(2024, 2, 29), "repair", None),
                ]
            },
        )
        (m,) = select_cohort(s, cohort="repeat_repair", as_of=D(2024, 3, 1))
        wider = select_cohort(
            s, cohort="repeat_repair", as_of=D(2024, 3, 1), params={"from_days": 30}
        )
    assert (m.vin, m.visit_date) == (vin, D(2024, 2, 29))
    assert len(m.visit_ids) == 3 and m.visit_id == m.visit_ids[-1]
    assert len(wider) == 1 and len(wider[0].visit_ids) == 4  # one member per vehicle


def test_active_customers_once_per_customer_and_filtered_by_an_active_vehicle(engine) -> None:
    as_of = D(2024, 8, 31)
    with Session(engine, expire_on_commit=False) as s:
        two = make_customer(s)
        make_vehicle(s, customer=two, purchase_date=D(2023, 1, 1), model="SUV")
        make_vehicle(s, customer=two, purchase_date=D(2024, 1, 1), model="Sedan")
        sold_sedan = make_customer(s)
        make_vehicle(
            s, customer=sold_sedan, purchase_date=D(2018, 1, 1), model="Sedan", status="sold"
        )
        make_vehicle(s, customer=sold_sedan, purchase_date=D(2024, 1, 1), model="SUV")
        old = make_customer(s)
        car = make_vehicle(s, customer=old, purchase_date=D(2019, 5, 1), model="Sedan")
        make_visit(s, vehicle=car, date=D(2024, 6, 1), type="maintenance")
        s.commit()
        everyone = select_cohort(s, cohort="active_customers", as_of=as_of)
        sedans = select_cohort(
            s, cohort="active_customers", as_of=as_of, filters=CohortFilter(models=("Sedan",))
        )
        older = select_cohort(
            s, cohort="active_customers", as_of=as_of, filters=CohortFilter(min_car_age_years=3)
        )
        refresh_visit_summary(s)
        s.commit()
        assert sorted(
            m.customer_id for m in select_cohort(s, cohort="active_customers", as_of=as_of)
        ) == sorted(m.customer_id for m in everyone)
    assert sorted(m.customer_id for m in everyone) == sorted(
        [two.customer_id, sold_sedan.customer_id, old.customer_id]
    )
    assert all(m.vin is None for m in everyone)
    # the sold Sedan does not make its owner a Sedan customer
    assert sorted(m.customer_id for m in sedans) == sorted([two.customer_id, old.customer_id])
    assert [m.customer_id for m in older] == [old.customer_id]
