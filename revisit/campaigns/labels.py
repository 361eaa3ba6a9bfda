"""The labels of every code a person reads, in zh and en: one catalogue, one kind per enum.

Codes are what revisit stores and prints in JSON (``do_not_contact``, ``frequency_cap``,
``listed``, ``sms``); a page, a call list or a dashboard shows their label instead. Each kind
is keyed by the enum it labels (:mod:`revisit.campaigns.statuses`,
:mod:`revisit.campaigns.outcome_codes`), and a test holds every member of each enum to a
label in both languages, so a new code cannot reach a page unlabelled.

The outcome codes and their details keep their labels where callers' words are parsed
(:data:`revisit.campaigns.outcome_codes.LABELS`); this catalogue takes them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from revisit.campaigns.outcome_codes import LABELS as OUTCOME_LABELS
from revisit.campaigns.outcome_codes import (
    CallCode,
    DeclineReason,
    Dissatisfaction,
    NotReached,
    OutcomeKind,
)
from revisit.campaigns.statuses import (
    ChannelKind,
    ContactStatus,
    ExclusionReason,
    PlanDecision,
    ReplyCode,
    RunStatus,
    SuppressionReason,
)

Pair = tuple[str, str]  # (zh, en)

CONTACT_STATUS: dict[str, Pair] = {
    ContactStatus.PENDING: ("待发送", "pending"),
    ContactStatus.SENDING: ("发送中", "sending"),
    ContactStatus.SENT: ("已发送", "sent"),
    ContactStatus.FAILED: ("发送失败", "failed"),
    ContactStatus.UNKNOWN: ("待核实", "unknown"),
    ContactStatus.LISTED: ("已分配", "listed"),
    ContactStatus.EXCLUDED: ("已排除", "excluded"),
    ContactStatus.SUPPRESSED: ("让位", "suppressed"),
    ContactStatus.HOLDOUT: ("对照组", "holdout"),
    ContactStatus.DEFERRED: ("延后", "deferred"),
    ContactStatus.EXPIRED: ("已过期", "expired"),
}

RUN_STATUS: dict[str, Pair] = {
    RunStatus.PLANNED: ("已计划", "planned"),
    RunStatus.SENDING: ("发送中", "sending"),
    RunStatus.DEFERRED: ("延后", "deferred"),
    RunStatus.PAUSED: ("已暂停", "paused"),
    RunStatus.DONE: ("完成", "done"),
    RunStatus.FAILED: ("失败", "failed"),
    RunStatus.DRY_RUN: ("预演", "dry run"),
}

PLAN_DECISION: dict[str, Pair] = {
    PlanDecision.TO_CONTACT: ("待联系", "to contact"),
    PlanDecision.EXCLUDED: ("排除", "excluded"),
    PlanDecision.SUPPRESSED: ("让位", "suppressed"),
    PlanDecision.HOLDOUT: ("对照组", "holdout"),
}

EXCLUSION: dict[str, Pair] = {
    ExclusionReason.DO_NOT_CONTACT: ("勿扰名单", "on the do-not-contact list"),
    ExclusionReason.VEHICLE_SOLD: ("车辆已售", "vehicle sold"),
    ExclusionReason.VEHICLE_SCRAPPED: ("车辆已报废", "vehicle scrapped"),
    ExclusionReason.NO_PHONE: ("无电话", "no phone"),
    ExclusionReason.INVALID_PHONE: ("电话无效", "invalid phone"),
    ExclusionReason.NOT_MOBILE: ("非手机号(只能电话)", "not a mobile (calls only)"),
    ExclusionReason.NO_SMS_CONSENT: ("未同意接收短信", "no SMS consent"),
}

SUPPRESSION: dict[str, Pair] = {
    SuppressionReason.LOWER_PRIORITY: ("更优先的活动已覆盖", "a higher-priority campaign has them"),
    SuppressionReason.FREQUENCY_CAP: ("已达短信频次上限", "SMS frequency cap reached"),
    SuppressionReason.RECONTACT_WINDOW: ("近期已由相关活动联系", "contacted recently"),
    SuppressionReason.ALREADY_CONTACTED: ("本活动已联系过", "already contacted"),
    SuppressionReason.SHARED_PHONE: ("同一电话已有联系", "another customer on the same phone"),
    SuppressionReason.BUDGET: ("门店当日短信预算已用完", "the store's SMS budget is spent"),
}

CHANNEL: dict[str, Pair] = {
    ChannelKind.SMS: ("短信", "SMS"),
    ChannelKind.CALL: ("电话", "call"),
}

REPLY: dict[str, Pair] = {
    ReplyCode.MESSAGE: ("客户回复", "reply"),
    ReplyCode.OPT_OUT: ("回复退订", "opted out by reply"),
    ReplyCode.OPT_IN: ("恢复接收", "opted back in"),
}

#: The code of a return outcome (:mod:`revisit.outcomes.records`).
RETURN: dict[str, Pair] = {"returned": ("已回厂", "returned")}

#: Every kind: its name → (the enum it labels, or None, value → (zh, en)).
KINDS: dict[str, tuple[type[StrEnum] | None, Mapping[str, Pair]]] = {
    "contact_status": (ContactStatus, CONTACT_STATUS),
    "run_status": (RunStatus, RUN_STATUS),
    "plan_decision": (PlanDecision, PLAN_DECISION),
    "exclusion": (ExclusionReason, EXCLUSION),
    "suppression": (SuppressionReason, SUPPRESSION),
    "channel": (ChannelKind, CHANNEL),
    "call_code": (CallCode, OUTCOME_LABELS),
    "not_reached": (NotReached, OUTCOME_LABELS),
    "decline_reason": (DeclineReason, OUTCOME_LABELS),
    "dissatisfaction": (Dissatisfaction, OUTCOME_LABELS),
    "reply": (ReplyCode, REPLY),
    "outcome_kind": (OutcomeKind, {}),  # never shown: the code says which
    "return": (None, RETURN),
}

#: A contact's reason (exclusion or suppression): value → (zh, en).
CONTACT_REASON: dict[str, Pair] = {**EXCLUSION, **SUPPRESSION}

#: Every code of a contact or an outcome a page may show, by its value: where two kinds
#: share a value (``do_not_contact`` is a call code and an exclusion), the outcome's label
#: wins; ask :func:`label` with the kind for the other.
ANY: dict[str, Pair] = {
    **PLAN_DECISION, **RUN_STATUS, **CONTACT_STATUS, **CONTACT_REASON, **CHANNEL, **REPLY,
    **RETURN, **OUTCOME_LABELS,
}  # fmt: skip


def pick(pair: Pair, lang: str) -> str:
    """The en half of ``pair`` for ``en``, else the zh half."""
    return pair[1] if lang == "en" else pair[0]


def label(value: str | None, lang: str = "zh", kind: str | None = None) -> str:
    """The label of code ``value`` in ``lang`` (zh or en): from ``kind`` when given (a key of
    :data:`KINDS`, or ``contact_reason``), else from :data:`ANY`; "" for None, and the value
    itself when it has no label (a code from a newer version, say)."""
    if value is None:
        return ""
    if kind == "contact_reason":
        table: Mapping[str, Pair] = CONTACT_REASON
    elif kind is not None:
        table = KINDS[kind][1]
    else:
        table = ANY
    pair = table.get(value)
    return pick(pair, lang) if pair else value
