"""Date arithmetic shared by the cohorts: calendar months with end-of-month clamping,
birthdays on 29 February, and the one portable way to count days inside SQL.

Boundary dates are computed here in Python and passed to SQL as bound parameters; the
only day arithmetic SQL does goes through :func:`sql_epoch_days` and the dated keys,
which give the same integers on SQLite and PostgreSQL.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import BigInteger, Date, Integer, String, cast, func, literal, type_coerce
from sqlalchemy.sql import ColumnElement

from revisit.errors import ConfigError

EPOCH = dt.date(1970, 1, 1)
_JULIAN_EPOCH = 2440587.5  # julianday('1970-01-01')


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole calendar months, clamped to the end of shorter months
    (31 Aug − 6 months = 28 or 29 Feb)."""
    return day + relativedelta(months=months)


def add_days(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


def epoch_days(day: dt.date) -> int:
    """Days since 1970-01-01: the scale :func:`sql_epoch_days` computes inside SQL."""
    return (day - EPOCH).days


def birthday_in_year(birthday: dt.date, year: int) -> dt.date:
    """The day ``birthday`` is celebrated in ``year``: 29 Feb becomes 28 Feb in other years."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return birthday.replace(year=year)


def birthday_keys(as_of: dt.date) -> tuple[str, ...]:
    """The ``MM-DD`` birthdays celebrated on ``as_of`` (``customers.birthday_md`` values)."""
    keys = [as_of.strftime("%m-%d")]
    if as_of.month == 2 and as_of.day == 28 and not calendar.isleap(as_of.year):
        keys.append("02-29")
    return tuple(keys)


def age_band_bounds(
    as_of: dt.date, *, min_years: int | None, max_years: int | None
) -> tuple[dt.date | None, dt.date | None]:
    """Purchase-date bounds ``(after, on_or_before)`` for a car age in ``[min, max)`` years."""
    after = add_months(as_of, -12 * max_years) if max_years is not None else None
    on_or_before = add_months(as_of, -12 * min_years) if min_years is not None else None
    return after, on_or_before


def sql_epoch_days(expr: Any, dialect: str) -> ColumnElement[int]:
    """Days since 1970-01-01 of a date (or ``YYYY-MM-DD`` text) expression, as an integer."""
    if dialect == "sqlite":
        return cast(func.julianday(expr) - _JULIAN_EPOCH, Integer)
    return cast(cast(expr, Date) - literal(EPOCH, Date), Integer)


_KEY_PAD = 1_000_000_000  # value + pad is positive and 10 digits wide
_KEY_SCALE = 10_000_000_000


def sql_dated_key(day: Any, value: Any, dialect: str) -> ColumnElement[Any]:
    """A key whose min/max is the earliest/latest ``(day, value)`` pair, so one aggregate
    gives a date and the value recorded with it: ``YYYY-MM-DD`` + 10-digit text on SQLite
    (dates are stored as ISO text there), a bigint of epoch days and value elsewhere."""
    if dialect == "sqlite":
        return type_coerce(day, String) + cast(value + _KEY_PAD, String)
    days = cast(day - literal(EPOCH, Date), BigInteger)
    return days * _KEY_SCALE + (value + _KEY_PAD)


def sql_key_days(key: Any, dialect: str) -> ColumnElement[int]:
    """The epoch days of a :func:`sql_dated_key`."""
    if dialect == "sqlite":
        return sql_epoch_days(func.substr(key, 1, 10), dialect)
    return cast(key.op("/", return_type=BigInteger)(_KEY_SCALE), Integer)


def sql_key_value(key: Any, dialect: str) -> ColumnElement[int]:
    """The value of a :func:`sql_dated_key`."""
    if dialect == "sqlite":
        return cast(func.substr(key, 11), Integer) - _KEY_PAD
    return cast(key.op("%", return_type=BigInteger)(_KEY_SCALE) - _KEY_PAD, Integer)


def sql_key_date(key: Any, dialect: str) -> ColumnElement[dt.date]:
    """The date of a :func:`sql_dated_key`, as a date expression."""
    if dialect == "sqlite":
        return type_coerce(func.substr(key, 1, 10), Date)
    return cast(literal(EPOCH, Date) + sql_key_days(key, dialect), Date)


def check_period(since: dt.date | None, until: dt.date | None) -> None:
    """Refuse a period that can hold no day: ``since`` after ``until`` (both inclusive).

    Raises :class:`~revisit.errors.ConfigError` naming both days (every report filter calls
    this from its ``__post_init__``, so the CLI and the pages get one line)."""
    if since is not None and until is not None and since > until:
        raise ConfigError(
            f"the period is empty: since {since.isoformat()} is after until {until.isoformat()}"
        )
