"""How long an SMS is, in the units and segments the operators bill.

A text made only of characters from the GSM 03.38 alphabet travels as GSM-7: 160 septets in
a single message, 153 per segment once it has to be split (the rest carries the concatenation
header). Characters of the extension table (``^ { } [ ] ~ | € \\f`` and ``\\``) take two septets
(an escape plus the character). Any other character — every Chinese character among them —
switches the whole message to UCS-2: 70 UTF-16 code units in a single message, 67 per
segment, and a character outside the Basic Multilingual Plane (most emoji) takes two units.

When a message is split, a two-unit character is never cut between segments, so the count
packs characters greedily the way handsets and providers do.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: GSM 03.38 basic character set (the escape character itself excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: each of these costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsLength:
    """``encoding`` is GSM-7 or UCS-2, ``units`` septets or UTF-16 code units."""

    encoding: str
    units: int
    segments: int


GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def is_gsm7(text: str) -> bool:
    return GSM7_ALL.issuperset(text)


def _unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_segments(text: str) -> SmsLength:
    """The encoding, length in units and number of segments of ``text`` (empty text: 0)."""
    chars = set(text)
    encoding = GSM7 if GSM7_ALL.issuperset(chars) else UCS2
    single, per_segment = _LIMITS[encoding]
    if not text:
        return SmsLength(encoding, 0, 0)
    # a two-unit character: an extension one in GSM-7, one beyond the BMP in UCS-2
    gsm7 = encoding == GSM7
    double = not GSM7_EXTENSION.isdisjoint(chars) if gsm7 else max(chars) > "\uffff"
    if not double:  # every character one unit: whole segments of per_segment units
        units = len(text)
        return SmsLength(encoding, units, 1 if units <= single else -(-units // per_segment))
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    if units <= single:
        return SmsLength(encoding, units, 1)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, units, segments)
