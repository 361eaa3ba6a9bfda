"""Phone numbers: normalised to E.164 with phonenumbers, classified mobile or landline,
masked for logs (``+86 139****5678``) and formatted for reading on a call list
(``138 0000 0001``)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

MOBILE = "mobile"
LANDLINE = "landline"

_SEPARATORS = re.compile(r"[\s\-().·/]+")
_EXCEL_FLOAT = re.compile(r"^(\d+)\.0+$", re.ASCII)
_CN_MOBILE_SHAPE = re.compile(r"^1[1-9]\d{9}$", re.ASCII)

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_LANDLINE_TYPES = {PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP, PhoneNumberType.UAN}


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    kind: str  # mobile | landline


class PhoneError(ValueError):
    """The text is not a usable phone number; the message says why."""


class PhoneParser:
    """Parses phone numbers for one default region.

    Chinese mobiles (11 digits starting with 1) are by far the most common input. For those
    not starting with 10 (Beijing's area code), libphonenumber's Chinese patterns decide
    validity and type on the first five digits, so its verdict is kept per 5-digit prefix and
    a million customers do not cost a million full parses.
    """

    def __init__(self, region: str = "CN") -> None:
        self.region = region.upper()
        self._prefix_verdicts: dict[str, Phone | str] = {}

    def parse(self, raw: str) -> Phone:
        """The number in ``raw`` (any common spelling: spaces, dashes, ``+86``/``0086``,
        full-width digits, an Excel float ``13912345678.0``) as E.164 and its kind.

        Raises :class:`PhoneError` (a ``ValueError``) saying why it is not usable.
        """
        text = raw.strip()
        if not text.isascii():  # full-width digits and signs typed with a Chinese IME
            text = unicodedata.normalize("NFKC", text).strip()
        if not text:
            raise PhoneError("missing")
        m = _EXCEL_FLOAT.match(text)
        if m:
            text = m.group(1)
        compact = _SEPARATORS.sub("", text)
        if any(c.isalpha() for c in compact):
            raise PhoneError(f"letters in a phone number ({_shown(text)})")
        if not compact.isascii():
            raise PhoneError(f"not a phone number ({_shown(text)})")
        if self.region == "CN":
            national = _cn_national(compact)
            if national is not None and _CN_MOBILE_SHAPE.match(national):
                return self._cn_mobile(national)
        return self._full_parse(text)

    def _cn_mobile(self, national: str) -> Phone:
        prefix = national[:5]
        verdict = self._prefix_verdicts.get(prefix)
        if verdict is None:
            try:
                verdict = self._full_parse(national)
            except PhoneError:
                verdict = "invalid"
            self._prefix_verdicts[prefix] = verdict
        if isinstance(verdict, str):
            raise PhoneError(f"not a valid phone number ({_shown(national)})")
        return Phone("+86" + national, verdict.kind)

    def _full_parse(self, text: str) -> Phone:
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            raise PhoneError(f"not a phone number ({_shown(text)})") from exc
        if not phonenumbers.is_valid_number(number):
            raise PhoneError(f"not a valid phone number ({_shown(text)})")
        kind = phonenumbers.number_type(number)
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        if kind in _MOBILE_TYPES:
            return Phone(e164, MOBILE)
        if kind in _LANDLINE_TYPES:
            return Phone(e164, LANDLINE)
        raise PhoneError(f"not a mobile or landline number ({_shown(text)})")


def _shown(text: str) -> str:
    """A rejected number as an error message shows it: masked like a good one, so that
    problem files and flow logs never carry a whole number (the file and line locate it)."""
    return repr(mask_phone(text)) if any(c.isdigit() for c in text) else repr(text)


def _cn_national(compact: str) -> str | None:
    """The national part of a Chinese number written with or without +86 / 0086 / 86."""
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            return compact[len(prefix) :]
    if compact.startswith("86") and len(compact) == 13:
        return compact[2:]
    if compact.startswith("+"):
        return None
    return compact


def mask_phone(value: object) -> str:
    """+8613912345678 → +86 139****5678. Keeps the country code, the first three and the
    last four digits of a national number of ten digits or more, fewer for shorter ones."""
    if not value:
        return ""
    text = str(value).strip()
    if text.startswith("+86") and len(text) == 14:  # the usual case, without a parse
        return f"+86 {text[3:6]}****{text[-4:]}"
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else "CN")
        prefix, national = f"+{parsed.country_code} ", str(parsed.national_number)
    except phonenumbers.NumberParseException:
        prefix, national = "", re.sub(r"\D", "", text)
    n = len(national)
    head, tail = (3, 4) if n >= 10 else (2, 2) if n >= 7 else (0, 2)
    if n <= tail:
        return f"{prefix}****"
    return f"{prefix}{national[:head]}{'*' * (n - head - tail)}{national[-tail:]}"


def format_for_reading(e164: object, region: str = "CN") -> str:
    """A stored E.164 number written the way a caller in ``region`` reads and dials it:
    ``+8613800000001`` → ``138 0000 0001``, ``+865952288 1234`` → ``0595 2288 1234``, a
    foreign number with the international prefix (``00 1 415-555-0100`` from China).

    Never starts with ``+`` (or any character a spreadsheet reads as a formula) and always
    holds a space, so Excel keeps it as text instead of a number such as 8.6138E+12. Text
    that is not a phone number comes back as it was given.
    """
    if not e164:
        return ""
    text = str(e164).strip()
    if text.startswith("+86") and len(text) == 14 and text[3] == "1":  # a mobile, no parse
        return f"{text[3:6]} {text[6:10]} {text[10:]}"
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text
    return phonenumbers.format_out_of_country_calling_number(number, region)
