"""Template filters: dates, money, plates and masked phones, in the forms Chinese customers
and staff expect. They are plain functions, usable outside templates too (logs mask phones
with :func:`mask_phone`)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from revisit.cohorts.definitions import DueBasis
from revisit.dms.phones import mask_phone

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PLATE = re.compile(r"^([\u4e00-\u9fff])\s*([A-Z])\s*[·.\-\s]?\s*([A-Z0-9\u4e00-\u9fff]{4,6})$")


def _as_date(value: Any, filter_name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError(f"{filter_name}: not a date: {value!r} (guard optional dates with 'if')")


def cn_date(value: Any) -> str:
    """2026-11-22 → 2026年11月22日."""
    d = _as_date(value, "cn_date")
    return f"{d.year}年{d.month}月{d.day}日"


def cn_month_day(value: Any) -> str:
    """2026-11-22 → 11月22日 (for short texts where the year is obvious)."""
    d = _as_date(value, "cn_month_day")
    return f"{d.month}月{d.day}日"


def en_date(value: Any) -> str:
    """2026-11-22 → 22 Nov 2026."""
    d = _as_date(value, "en_date")
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def money(value: Any, symbol: str = "¥") -> str:
    """1280 → ¥1,280; 1280.5 → ¥1,280.50; negative amounts keep their sign in front."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"money: not an amount: {value!r} (guard optional amounts with 'if')")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"money: not an amount: {value!r}") from exc
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == amount.to_integral_value():
        return f"{sign}{symbol}{int(amount):,}"
    return f"{sign}{symbol}{amount:,.2f}"


def plate(value: Any) -> str:
    """闽C12345 → 闽C·12345 (also new-energy plates and spaced or dashed input); other
    plates are upper-cased and trimmed; a missing plate renders as an empty string."""
    if value is None:
        return ""
    text = str(value).strip().upper()
    m = _PLATE.match(text)
    if not m:
        return text
    return f"{m.group(1)}{m.group(2)}·{m.group(3)}"


def km(value: Any) -> str:
    """32000 → 32,000 km."""
    return f"{int(value):,} km"


_VISIT_TYPES = {
    "first_service": ("首保", "first service"),
    "maintenance": ("保养", "maintenance"),
    "repair": ("维修", "repair"),
    "bodywork": ("钣喷", "bodywork"),
    "warranty": ("保修", "warranty"),
    "other": ("其他", "other"),
}


def visit_type(value: Any, lang: str = "zh") -> str:
    """maintenance → 保养 (zh) / maintenance (en); unknown types are shown as they are."""
    labels = _VISIT_TYPES.get(str(value))
    if labels is None:
        return str(value)
    return labels[1] if lang == "en" else labels[0]


_DUE_BASES: dict[str, tuple[str, str]] = {
    DueBasis.PURCHASE: ("购车后首保", "first service after purchase"),
    DueBasis.MILEAGE: ("按行驶里程估算", "by the mileage estimate"),
    DueBasis.INTERVAL: ("按保养间隔", "by time since the last service"),
    DueBasis.POLICY_EXPIRY: ("保险到期", "policy expiry"),
    DueBasis.ITEM_DUE_DATE: ("顾问建议日期", "the advisor's date"),
    DueBasis.ITEM_DEFAULT: ("提出后90天", "90 days after it was proposed"),
}


def due_basis(value: Any, lang: str = "zh") -> str:
    """mileage → 按行驶里程估算 (zh) / by the mileage estimate (en): why a vehicle is due
    when it is (a :class:`~revisit.cohorts.definitions.DueBasis`); unknown values as they
    are, none as an empty string."""
    if value is None:
        return ""
    labels = _DUE_BASES.get(str(value))
    if labels is None:
        return str(value)
    return labels[1] if lang == "en" else labels[0]


FILTERS = {
    "cn_date": cn_date,
    "cn_month_day": cn_month_day,
    "en_date": en_date,
    "money": money,
    "plate": plate,
    "mask_phone": mask_phone,
    "visit_type": visit_type,
    "km": km,
    "due_basis": due_basis,
}
