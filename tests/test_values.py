"""Parsing the values of a DMS export: dates, numbers, yes/no, phones."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import to_excel

from revisit.dms.importing import values as v
from revisit.dms.phones import LANDLINE, MOBILE, PhoneError, PhoneParser, mask_phone


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-02-29", "2024-02-29"),
        ("2024/2/9", "2024-02-09"),
        ("2024.02.09", "2024-02-09"),
        ("20240209", "2024-02-09"),
        ("2024年2月9日", "2024-02-09"),
        ("2024-02-09 10:30:00", "2024-02-09"),
        ("2024-02-09T10:30", "2024-02-09"),
    ],
)
def test_dates_in_export_spellings(text: str, iso: str) -> None:
    assert v.parse_date(text) == iso


@pytest.mark.parametrize("text", ["2023-02-29", "2024-13-01", "02/09/2024", "soon", "1850-01-01"])
def test_bad_dates_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="date"):
        v.parse_date(text)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_every_spelling_of_a_date_parses_to_it(day: dt.date) -> None:
    spellings = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02d}.{day.day:02d}",
        f"{day.year}{day.month:02d}{day.day:02d}",
        f"{day.year}年{day.month}月{day.day}日",
    ]
    assert {v.parse_date(s) for s in spellings} == {day.isoformat()}


@pytest.mark.parametrize(
    ("text", "km"), [("12000", 12000), ("12,000", 12000), ("12000km", 12000), ("8.5", 8)]
)
def test_mileage(text: str, km: int) -> None:
    assert v.parse_mileage(text) == km


@pytest.mark.parametrize(("text", "reason"), [("-5", "negative"), ("far", "not a number")])
def test_bad_mileage(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        v.parse_mileage(text)


@pytest.mark.parametrize(("text", "amount"), [("¥1,280", 1280.0), ("680.5元", 680.5)])
def test_money(text: str, amount: float) -> None:
    assert v.parse_money(text) == amount


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("是", True), ("Y", True), ("0", False), ("否", False)]
)
def test_yes_no(text: str, value: bool) -> None:
    assert v.parse_bool(text) is value


@pytest.mark.parametrize(
    ("text", "kind"), [("首保", "first_service"), ("定保", "maintenance"), ("钣喷", "bodywork")]
)
def test_visit_type_aliases(text: str, kind: str) -> None:
    assert v.VISIT_TYPES(text) == kind


@pytest.mark.parametrize(("text", "ok"), [("350502", True), ("鲤城区", True), ("999999", False)])
def test_region_codes(text: str, ok: bool) -> None:
    if ok:
        assert v.parse_region(text) == text
    else:
        with pytest.raises(ValueError, match="unknown region code"):
            v.parse_region(text)


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("13912345678", "+8613912345678", MOBILE),
        ("139 1234 5678", "+8613912345678", MOBILE),
        ("+86 139-1234-5678", "+8613912345678", MOBILE),
        ("008613912345678", "+8613912345678", MOBILE),
        ("8613912345678", "+8613912345678", MOBILE),
        ("13912345678.0", "+8613912345678", MOBILE),
        ("0595-22881234", "+8659522881234", LANDLINE),
        ("(0595) 2288 1234", "+8659522881234", LANDLINE),
        ("+1 415 555 2671", "+14155552671", MOBILE),
    ],
)
def test_phones_normalise_to_e164(raw: str, e164: str, kind: str) -> None:
    phone = PhoneParser("CN").parse(raw)
    assert (phone.e164, phone.kind) == (e164, kind)


@pytest.mark.parametrize("raw", ["", "12345", "abc", "12012345678", "1391234567x"])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(PhoneError):
        PhoneParser("CN").parse(raw)


def test_prefix_verdicts_name_the_number_at_hand() -> None:
    parser = PhoneParser("CN")
    for raw in ("12012345678", "12099999999"):
        with pytest.raises(PhoneError, match=re.escape(mask_phone(raw))) as raised:
            parser.parse(raw)
        assert raw not in str(raised.value)  # masked: problem files and logs keep no number


_SHARED = PhoneParser("CN")  # one parser across examples, so its prefix verdicts are reused


@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_cached_verdict_equals_full_parse(number: str) -> None:
    def verdict(parse: Callable[[str], object]) -> object:
        try:
            return parse(number)
        except PhoneError:
            return None

    assert verdict(_SHARED.parse) == verdict(PhoneParser("CN")._full_parse)


def test_mask_phone() -> None:
    assert mask_phone("+8613912345678") == "+86 139****5678"
    assert mask_phone("+14155552671") == "+1 415***2671"  # the country code stays apart
    assert mask_phone(None) == ""


# --- full-width digits (issue 11, item 2): folded before any fast path ----------------------


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (v.parse_date, "２０２６-１１-２３", "2026-11-23"),  # the ISO fast path's shape
        (v.parse_date, "２０２６－１１－２３", "2026-11-23"),  # full-width dashes too
        (v.parse_date, "２０２６年１１月２３日", "2026-11-23"),
        (v.parse_date, "２０２６１１２３", "2026-11-23"),
        (v.parse_mileage, "１２，０００ｋｍ", 12000),
        (v.parse_money, "￥１２８０．５", 1280.5),
        (v.parse_id, "Ｃ００１", "C001"),
        (v.parse_region, "３５０５０２", "350502"),
        (v.parse_bool, "ＹＥＳ", True),
        (v.VISIT_TYPES, "ＭＡＩＮＴＥＮＡＮＣＥ", "maintenance"),
    ],
)
def test_full_width_text_reads_as_ascii(
    parse: Callable[[str], object], text: str, value: object
) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (v.parse_date, "٢٠٢٦-١١-٢٣"),  # other scripts' digits are not folded: refused
        (v.parse_mileage, "nan"),
        (v.parse_money, "inf"),
        (v.parse_region, "٣٥٠٥٠٢"),
    ],
)
def test_numbers_are_ascii_digits_only(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


@pytest.mark.parametrize(
    "raw",
    [
        "139１２３４５６７８",
        "１３９１２３４５６７８",
        "＋８６ １３９－１２３４－５６７８",
        "139 1234 5678",
    ],
)
def test_mixed_width_phones_are_stored_in_ascii(raw: str) -> None:
    phone = PhoneParser("CN").parse(raw)
    assert phone.e164 == "+8613912345678" and phone.e164.isascii()


def test_phone_with_other_digits_is_refused() -> None:
    with pytest.raises(PhoneError):
        PhoneParser("CN").parse("١٣٩١٢٣٤٥٦٧٨")


# --- Excel serial dates (issue 11, item 1) ----------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "text", "iso"),
    [
        (v.EXCEL_1900, "45367", "2024-03-16"),  # the cell (numFmtId 31)
        (v.EXCEL_1900, "45367.75", "2024-03-16"),  # with a time of day
        (v.EXCEL_1900, "61", "1900-03-01"),  # after Excel's phantom 1900-02-29
        (v.EXCEL_1900, "1", "1900-01-01"),
        (v.EXCEL_1904, "43905", "2024-03-16"),  # a 1904-system workbook
        (v.EXCEL_1900, "20240316", "2024-03-16"),  # eight digits: YYYYMMDD, not a serial
        (v.EXCEL_1900, "2024-03-16", "2024-03-16"),
        (v.EXCEL_1900, "４５３６７", "2024-03-16"),
    ],
)
def test_excel_serial_dates(epoch: dt.date, text: str, iso: str) -> None:
    assert v.excel_date_parser(epoch)(text) == iso


@settings(deadline=None)  # timing is for benchmarks; a shared machine may be slow
@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2200, 12, 31)))
def test_excel_serials_match_openpyxl(day: dt.date) -> None:
    serial = to_excel(dt.datetime(day.year, day.month, day.day))
    assert v.excel_date_parser(v.EXCEL_1900)(str(int(serial))) == day.isoformat()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("定期保养", "maintenance"), ("一般维修", "repair"), ("钣喷", "bodywork"),
        ("索赔", "warranty"), ("首次保养", "first_service"), ("机电维修", "repair"),
        ("钣金喷漆", "bodywork"), ("免费首保", "first_service"), ("质保", "warranty"),
    ],
)  # fmt: skip
def test_dms_visit_type_values(text: str, kind: str) -> None:
    assert v.VISIT_TYPES(text) == kind


def test_plates_are_folded() -> None:
    assert v.parse_code("闽C１２３４５") == "闽C12345"
