"""Properties of the date arithmetic the cohorts rely on."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revisit.dates import add_months, birthday_in_year, birthday_keys, epoch_days
from revisit.errors import ConfigError
from revisit.reports.calls import CallFilter
from revisit.reports.campaigns import ReportFilter
from revisit.reports.upsell import UpsellFilter

days = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2100, 12, 31))
months = st.integers(min_value=-240, max_value=240)


@given(days, months)
def test_add_months_moves_whole_calendar_months(d: dt.date, n: int) -> None:
    moved = add_months(d, n)
    assert (moved.year * 12 + moved.month) - (d.year * 12 + d.month) == n


@given(days, months)
def test_add_months_keeps_the_day_or_clamps_to_month_end(d: dt.date, n: int) -> None:
    moved = add_months(d, n)
    last = calendar.monthrange(moved.year, moved.month)[1]
    assert moved.day == min(d.day, last)


@given(days, st.integers(min_value=0, max_value=240))
def test_add_months_is_monotonic(d: dt.date, n: int) -> None:
    assert add_months(d, -n) <= d <= add_months(d, n)
    assert add_months(d + dt.timedelta(days=1), -n) >= add_months(d, -n)


def test_add_months_examples() -> None:
    assert add_months(dt.date(2024, 8, 31), -6) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 8, 31), -6) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 2, 29), -12) == dt.date(2023, 2, 28)


@given(days)
def test_epoch_days_counts_days(d: dt.date) -> None:
    assert epoch_days(d + dt.timedelta(days=1)) - epoch_days(d) == 1
    assert epoch_days(dt.date(1970, 1, 1)) == 0


@given(days, st.integers(min_value=1901, max_value=2099))
def test_birthday_is_celebrated_once_a_year(birthday: dt.date, year: int) -> None:
    day = birthday_in_year(birthday, year)
    assert day.year == year
    assert any(k == birthday.strftime("%m-%d") for k in birthday_keys(day))


@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_birthday_keys_hold_today_and_29_feb_only_on_common_28_feb(d: dt.date) -> None:
    keys = birthday_keys(d)
    assert keys[0] == d.strftime("%m-%d")
    assert ("02-29" in keys) == (
        d.month == 2 and (d.day == 29 or (d.day == 28 and not calendar.isleap(d.year)))
    )


@pytest.mark.parametrize("make", [ReportFilter, CallFilter, UpsellFilter])
def test_report_filters_refuse_an_empty_period(make: Any) -> None:
    """A period whose since is after its until can hold no day: every report filter refuses it
    (the CLI and the web pages build these filters) rather than show an empty table."""
    with pytest.raises(ConfigError, match="since 2026-12-01 is after until 2026-11-01"):
        make(since=dt.date(2026, 12, 1), until=dt.date(2026, 11, 1))
    same_day = make(since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 1))
    assert same_day.since == same_day.until
