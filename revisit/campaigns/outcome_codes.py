"""Call outcome codes and their details (SPEC, Outcomes), with the labels callers read and
write on the call list (zh and en).

A call ends in one code; ``not_reached`` carries why, ``declined`` carries a reason, and
``callback`` a date. ``do_not_contact`` is the customer asking never to be contacted again.
``dissatisfied`` (a complaint found on a follow-up call) carries a category and, in the
note, the customer's words; it opens a ticket for the store's service manager
(:mod:`revisit.outcomes.tickets`).
"""

from __future__ import annotations

from enum import StrEnum


class OutcomeKind(StrEnum):
    """Where an outcome comes from."""

    CALL = "call"  # a caller's result
    REPLY = "reply"  # the customer's SMS reply
    RETURN = "return"  # the customer came back within the attribution window


class CallCode(StrEnum):
    """What came of a call."""

    BOOKED = "booked"
    WILL_COME = "will_come"
    CALLBACK = "callback"
    NOT_REACHED = "not_reached"
    DECLINED = "declined"
    DO_NOT_CONTACT = "do_not_contact"
    DISSATISFIED = "dissatisfied"  # a complaint: opens a ticket


class NotReached(StrEnum):
    """Why a call did not reach the customer."""

    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    BUSY = "busy"


class DeclineReason(StrEnum):
    """Why a reached customer will not come (tallied by ``revisit report churn``)."""

    PRICE = "price"
    QUALITY = "quality"
    WAITING_TIME = "waiting_time"
    ATTITUDE = "attitude"
    DISTANCE = "distance"
    RELATIVE_GARAGE = "relative_garage"
    CAR_SOLD = "car_sold"
    LOW_MILEAGE = "low_mileage"
    AWAY = "away"
    OTHER = "other"


class Dissatisfaction(StrEnum):
    """What a dissatisfied customer complains about (the ticket's category; the values and
    labels are those of the decline reasons of the same name)."""

    QUALITY = "quality"
    WAITING_TIME = "waiting_time"
    PRICE = "price"
    ATTITUDE = "attitude"
    OTHER = "other"


#: Labels of every code and detail: value → (zh, en).
LABELS: dict[str, tuple[str, str]] = {
    CallCode.BOOKED: ("已预约", "booked"),
    CallCode.WILL_COME: ("会来店", "will come"),
    CallCode.CALLBACK: ("再联系", "call back"),
    CallCode.NOT_REACHED: ("未接通", "not reached"),
    CallCode.DECLINED: ("拒绝", "declined"),
    CallCode.DO_NOT_CONTACT: ("勿扰", "do not contact"),
    CallCode.DISSATISFIED: ("不满意", "dissatisfied"),
    NotReached.NO_ANSWER: ("无人接听", "no answer"),
    NotReached.WRONG_NUMBER: ("空号错号", "wrong number"),
    NotReached.BUSY: ("占线", "busy"),
    DeclineReason.PRICE: ("价格", "price"),
    DeclineReason.QUALITY: ("质量", "quality"),
    DeclineReason.WAITING_TIME: ("等待时间", "waiting time"),
    DeclineReason.ATTITUDE: ("服务态度", "attitude"),
    DeclineReason.DISTANCE: ("距离远", "distance"),
    DeclineReason.RELATIVE_GARAGE: ("亲友修理厂", "relative's garage"),
    DeclineReason.CAR_SOLD: ("车已卖", "car sold"),
    DeclineReason.LOW_MILEAGE: ("里程少", "low mileage"),
    DeclineReason.AWAY: ("人在外地", "away"),
    DeclineReason.OTHER: ("其他", "other"),
}

#: Other words callers write for the same things (what Excel sheets in the shops say).
SYNONYMS: dict[str, str] = {
    "预约": CallCode.BOOKED,
    "已约": CallCode.BOOKED,
    "会来": CallCode.WILL_COME,
    "回电": CallCode.CALLBACK,
    "回访": CallCode.CALLBACK,
    "再回访": CallCode.CALLBACK,
    "未接": NotReached.NO_ANSWER,
    "空号": NotReached.WRONG_NUMBER,
    "错号": NotReached.WRONG_NUMBER,
    "不来": CallCode.DECLINED,
    "投诉": CallCode.DISSATISFIED,
    "抱怨": CallCode.DISSATISFIED,
    "不满": CallCode.DISSATISFIED,
    "不要再打": CallCode.DO_NOT_CONTACT,
    "拒绝联系": CallCode.DO_NOT_CONTACT,
    "退订": CallCode.DO_NOT_CONTACT,
    "太贵": DeclineReason.PRICE,
    "车已卖掉": DeclineReason.CAR_SOLD,
    "卖车": DeclineReason.CAR_SOLD,
    "不在本地": DeclineReason.AWAY,
}

CODES = frozenset(CallCode)
NOT_REACHED = frozenset(NotReached)
DECLINE_REASONS = frozenset(DeclineReason)
DISSATISFACTIONS = frozenset(Dissatisfaction)


def _folded(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


_LOOKUP: dict[str, str] = {}
for _value, (_zh, _en) in LABELS.items():
    for _word in (_value, _zh, _en):
        _LOOKUP[_folded(_word)] = str(_value)
for _word, _value in SYNONYMS.items():
    _LOOKUP[_folded(_word)] = str(_value)


def canonical(text: str) -> str | None:
    """The canonical value for a code, detail or label written in either language
    (``已预约`` → ``booked``, ``Wrong number`` → ``wrong_number``); None if unknown."""
    return _LOOKUP.get(_folded(text))


def label(value: str, lang: str = "zh") -> str:
    """The label of a code or detail in ``lang`` (zh or en); the value itself if unknown."""
    labels = LABELS.get(value)
    if labels is None:
        return value
    return labels[1] if lang == "en" else labels[0]


def detail_groups() -> dict[str, list[str]]:
    """The codes that carry a detail, each with its details in order: not_reached → why,
    declined → the reason, dissatisfied → the category (the web form's reason list)."""
    return {
        CallCode.NOT_REACHED.value: [d.value for d in NotReached],
        CallCode.DECLINED.value: [d.value for d in DeclineReason],
        CallCode.DISSATISFIED.value: [d.value for d in Dissatisfaction],
    }


def legend(lang: str = "zh") -> dict[str, list[str]]:
    """What a caller may write, for the call sheet: code label → its detail labels."""
    groups = detail_groups()
    return {label(c, lang): [label(d, lang) for d in groups.get(c.value, [])] for c in CallCode}
