"""Rendering: the batch context loader, the sandboxed template renderer, template filters
and SMS length in segments. See :mod:`revisit.rendering.context` for the render context."""

from __future__ import annotations

from revisit.rendering.context import load_contexts
from revisit.rendering.filters import (
    FILTERS,
    cn_date,
    cn_month_day,
    en_date,
    mask_phone,
    money,
    plate,
    visit_type,
)
from revisit.rendering.members import MemberRef, member_refs, merge_members, refs_from_details
from revisit.rendering.optout_hint import OPT_OUT_HINTS, opt_out_hint
from revisit.rendering.renderer import (
    CampaignTemplateError,
    RenderedSms,
    Renderer,
    RenderFailure,
    RenderProblem,
    make_environment,
    raise_problems,
)
from revisit.rendering.sms_length import GSM7, UCS2, SmsLength, is_gsm7, sms_segments

__all__ = [
    "FILTERS",
    "GSM7",
    "OPT_OUT_HINTS",
    "UCS2",
    "CampaignTemplateError",
    "MemberRef",
    "RenderFailure",
    "RenderProblem",
    "RenderedSms",
    "Renderer",
    "SmsLength",
    "cn_date",
    "cn_month_day",
    "en_date",
    "is_gsm7",
    "load_contexts",
    "make_environment",
    "mask_phone",
    "member_refs",
    "merge_members",
    "money",
    "opt_out_hint",
    "plate",
    "raise_problems",
    "refs_from_details",
    "sms_segments",
    "visit_type",
]
