"""Parsers for the values of a DMS export. Each takes the cell's text and returns the value
to store, or raises ``ValueError`` whose message is the reason shown to the user.

Every parser of a value that carries digits (dates, mileage, amounts, ids, region codes; phones
in :mod:`revisit.dms.phones`) first folds the text with Unicode NFKC (:func:`fold`), so
full-width digits and separators typed with a Chinese input method (``２０２６－１１－２３``,
``139１２３４５６７８``) read as their ASCII forms; patterns then accept ASCII digits only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$", re.ASCII
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$", re.ASCII)
_SERIAL = re.compile(r"^\d{1,6}(?:\.\d+)?$", re.ASCII)
_NUMBER_NOISE = re.compile(r"[,\s¥￥元]|km$|公里$|KM$", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$", re.ASCII)
#: Day 0 of Excel's serial dates: the 1900 date system (counting its phantom 1900-02-29) and
#: the 1904 one (old Mac workbooks; openpyxl reports which as the workbook's ``epoch``).
EXCEL_1900 = dt.date(1899, 12, 30)
EXCEL_1904 = dt.date(1904, 1, 1)
_PROVINCE_PREFIXES = {
    *(str(n) for n in range(11, 16)), *(str(n) for n in range(21, 24)),
    *(str(n) for n in range(31, 38)), *(str(n) for n in range(41, 47)),
    *(str(n) for n in range(50, 55)), *(str(n) for n in range(61, 66)), "71", "81", "82",
}  # fmt: skip

TRUE_WORDS = {"true", "1", "yes", "y", "t", "是", "有", "同意", "已续保", "已续"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "否", "无", "不同意", "未续保", "未续"}


def fold(text: str) -> str:
    """``text`` with full-width and other compatibility forms folded to ASCII (Unicode NFKC);
    ASCII text is returned as it is, without the cost of a normalisation."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def parse_date(text: str) -> str:
    """A calendar date in the usual export spellings, returned as ISO ``YYYY-MM-DD``.

    Accepts ``2026-11-23``, ``2026/11/23``, ``2026.11.23``, ``20261123``, ``2026年11月23日``
    (full-width digits too; a time after the date is ignored); raises ``ValueError`` naming
    the text otherwise, or for a year outside 1900–2200.
    """
    text = fold(text)
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a date ({text!r})") from None
        if 1900 <= value.year <= 2200:
            return text
        raise ValueError(f"implausible date ({text!r})")
    m = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not m:
        raise ValueError(f"not a date ({text!r}); write YYYY-MM-DD")
    try:
        value = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError(f"not a date ({text!r})") from None
    return _plausible(value, text)


def excel_date_parser(epoch: dt.date) -> Callable[[str], str]:
    """:func:`parse_date` for a column of an ``.xlsx`` sheet: a bare number of up to six
    digits (with a fraction for a time of day) is an Excel serial date counted from
    ``epoch`` (:data:`EXCEL_1900` or :data:`EXCEL_1904`), whatever number format the cell
    had — Chinese built-in formats (ids 27–36, 50–58) are not known to openpyxl, which hands
    such a date over as its serial."""

    def parse(text: str) -> str:
        text = fold(text)
        if not _SERIAL.match(text):
            return parse_date(text)
        days = int(float(text))
        if epoch == EXCEL_1900 and days < 61:
            days += 1  # before Excel's phantom 1900-02-29
        return _plausible(epoch + dt.timedelta(days=days), text)

    return parse


def _plausible(value: dt.date, text: str) -> str:
    if not 1900 <= value.year <= 2200:
        raise ValueError(f"implausible date ({text!r})")
    return value.isoformat()


def _number(text: str) -> float:
    """The number in ``text`` after folding and dropping thousands separators, spaces,
    currency and km units; ``ValueError`` when none (also for ``nan``/``inf``)."""
    if text.isascii() and "_" not in text:  # the usual cell, without a pattern
        try:
            value = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(value):
                return value
    cleaned = _NUMBER_NOISE.sub("", fold(text))
    if not _NUMBER.match(cleaned):
        raise ValueError(text)
    return float(cleaned)


def parse_mileage(text: str) -> int:
    """A mileage in whole km (``12,000``, ``12000km``, ``１２０００公里``); refuses a negative
    one and one over 3,000,000 km."""
    try:
        value = _number(text)
    except ValueError:
        raise ValueError(f"not a number of km ({text!r})") from None
    if value < 0:
        raise ValueError(f"negative mileage ({text!r})")
    if value > 3_000_000:
        raise ValueError(f"implausible mileage ({text!r})")
    return int(value)


def parse_money(text: str) -> float:
    """An amount in yuan rounded to fen (``¥1,280.50``, ``1280元``); refuses a negative one."""
    try:
        value = _number(text)
    except ValueError:
        raise ValueError(f"not an amount ({text!r})") from None
    if value < 0:
        raise ValueError(f"negative amount ({text!r})")
    return round(value, 2)


def parse_bool(text: str) -> bool:
    word = fold(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not yes/no ({text!r})")


def choice(mapping: dict[str, str]) -> Callable[[str], str]:
    """A parser accepting the keys of ``mapping`` (case-insensitive) and returning the value."""
    table = {fold(k).lower(): v for k, v in mapping.items()}
    exact = {**mapping, **table}  # the spellings as written: one lookup for most cells
    allowed = ", ".join(sorted(set(mapping.values())))

    def parse(text: str) -> str:
        hit = exact.get(text)
        if hit is not None:
            return hit
        try:
            return table[fold(text).strip().lower()]
        except KeyError:
            raise ValueError(f"unknown value {text!r} (expected one of {allowed})") from None

    return parse


def parse_timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone ({text!r})") from None
    return text


def parse_region(text: str) -> str:
    """A region name (free text) or a six-digit administrative division code (GB/T 2260)."""
    text = fold(text)
    if text.isdigit():
        if not text.isascii() or len(text) != 6 or text[:2] not in _PROVINCE_PREFIXES:
            raise ValueError(f"unknown region code ({text!r})")
        return text
    if len(text) > 64:
        raise ValueError("region too long (over 64 characters)")
    return text


def parse_text(text: str) -> str:
    return text


def parse_code(text: str) -> str:
    """A short code with digits that is shown, not looked up (a plate): folded (NFKC)."""
    return fold(text)


def parse_id(text: str) -> str:
    """An id as the DMS wrote it, folded (``Ｃ００１`` is ``C001``); at most 64 characters."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).strip()
    if len(text) > 64:
        raise ValueError(f"id too long ({text[:20]!r}…)")
    return text


VISIT_TYPES = choice(
    {
        "first_service": "first_service", "首保": "first_service", "首次保养": "first_service",
        "免费首保": "first_service", "首次免费保养": "first_service",
        "maintenance": "maintenance", "保养": "maintenance", "定保": "maintenance",
        "常规保养": "maintenance", "定期保养": "maintenance", "例行保养": "maintenance",
        "小保养": "maintenance", "大保养": "maintenance",
        "repair": "repair", "维修": "repair", "机修": "repair", "一般维修": "repair",
        "机电维修": "repair", "故障维修": "repair", "快修": "repair", "小修": "repair",
        "大修": "repair",
        "bodywork": "bodywork", "钣喷": "bodywork", "钣金": "bodywork", "喷漆": "bodywork",
        "事故车": "bodywork", "钣金喷漆": "bodywork", "事故维修": "bodywork",
        "warranty": "warranty", "保修": "warranty", "索赔": "warranty", "三包": "warranty",
        "质保": "warranty", "保修索赔": "warranty",
        "other": "other", "其他": "other", "其它": "other", "美容": "other", "装潢": "other",
        "精品": "other", "内部": "other",
    }
)  # fmt: skip
VEHICLE_STATUS = choice(
    {
        "active": "active", "在用": "active", "正常": "active",
        "sold": "sold", "已售": "sold", "已卖": "sold", "转卖": "sold",
        "scrapped": "scrapped", "报废": "scrapped", "已报废": "scrapped",
    }
)  # fmt: skip
GRADE = choice({"A": "A", "B": "B", "C": "C", "A类": "A", "B类": "B", "C类": "C"})
UPSELL_STATUS = choice(
    {
        "accepted": "accepted", "接受": "accepted", "已接受": "accepted", "同意": "accepted",
        "已做": "accepted", "declined": "declined", "拒绝": "declined", "未接受": "declined",
        "已拒绝": "declined", "未做": "declined",
    }
)  # fmt: skip
LANGUAGE = choice(
    {"zh": "zh", "en": "en", "中文": "zh", "英文": "en", "zh-cn": "zh", "en-us": "en"}
)
