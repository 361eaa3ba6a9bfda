"""No template prints None: an empty value fails the preview like an undefined name, unless
the template says what to print instead; every shipped template reads well on sparse data.

Regression: ``{{ store.address }}`` for a store without an address rendered
``到店地址:None。`` — StrictUndefined only catches missing names.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from revisit.campaigns.config import load_campaigns
from revisit.rendering.context import opt_out_hint
from revisit.rendering.renderer import CampaignTemplateError, Renderer

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
AS_OF = dt.date(2026, 11, 23)


def shipped() -> list[tuple[str, str, str]]:
    """(kind, campaign, language) of every shipped template that is not a partial."""
    out = []
    for kind in ("sms", "calls"):
        for path in sorted((TEMPLATES / kind).glob("*.j2")):
            if not path.name.startswith("_"):
                campaign, lang, _ = path.name.split(".")
                out.append((kind, campaign, lang))
    return out


def campaign_vars(campaign: str) -> dict[str, Any]:
    """What the shipped campaign file says to customers (occasion, offer, hours), if any."""
    files = load_campaigns(ROOT / "campaigns")
    return files[campaign].template_vars() if campaign in files else {}


def sparse_context(campaign: str, lang: str, *, channel: str, bare: bool = False) -> dict[str, Any]:
    """A customer with every optional field empty: a store without address, phone or SMS
    sender; a vehicle without plate or model; no region or birthday; visits without
    mileage, advisor or amount; items without amount or due date; a policy without insurer.
    ``bare``: no vehicles, visits, items or policies at all."""
    vin = "LFV3A23C0K3051234"
    vehicle = {
        "vin": vin, "plate": None, "model": None, "purchase_date": dt.date(2023, 5, 1),
        "status": "active", "car_age_years": 3, "last_visit_date": None,
        "last_visit_type": None, "last_mileage_km": None, "due_date": None,
    }  # fmt: skip
    visit = {"visit_id": "RO1", "vin": vin, "date": dt.date(2026, 6, 1), "type": "maintenance",
             "mileage_km": None, "amount": None, "advisor": None}  # fmt: skip
    item = {"item_id": "U1", "vin": vin, "item": "刹车片", "grade": "A", "status": "declined",
            "amount": None, "due_date": None, "visit_date": dt.date(2026, 6, 1)}  # fmt: skip
    policy = {"policy_id": "P1", "vin": vin, "insurer": None, "expiry_date": dt.date(2026, 12, 9)}
    return {
        "customer": {
            "customer_id": "C1",
            "name": "王伟",
            "phone": "+8613912345678",
            "phone_masked": "+86 139****5678",
            "language": lang,
            "region": None,
            "birthday": None,
        },
        "language": lang,
        "vehicles": [] if bare else [vehicle],
        "store": {
            "store_id": "S1",
            "name": "泉州店",
            "phone": None,
            "address": None,
            "sms_sender": None,
            "timezone": "Asia/Shanghai",
        },
        "campaign": {"name": campaign, "cohort": campaign, "channel": channel, "marketing": True}
        | campaign_vars(campaign),
        "as_of": AS_OF,
        "due_date": None,
        "upsell_items": [] if bare else [item],
        "policies": [] if bare else [policy],
        "history": [] if bare else [visit],
        "last_advisor": None,
        "details": {},
        "opt_out_hint": opt_out_hint(lang),
    }


@pytest.mark.parametrize("bare", [False, True], ids=["sparse", "bare"])
@pytest.mark.parametrize(
    ("kind", "campaign", "lang"), shipped(), ids=[f"{k}/{c}.{lang}" for k, c, lang in shipped()]
)
def test_every_shipped_template_reads_well_on_sparse_data(
    kind: str, campaign: str, lang: str, bare: bool
) -> None:
    renderer = Renderer(TEMPLATES)
    channel = "call" if kind == "calls" else "sms"
    ctx = sparse_context(campaign, lang, channel=channel, bare=bare)
    if kind == "sms":
        text = renderer.render_sms(campaign, lang, ctx).text
    else:
        text = renderer.render_call_sheet(campaign, lang, ctx)
    assert not re.search(r"\bnone\b", text, re.IGNORECASE), text
    assert "()" not in text and "()" not in text  # no empty brackets left behind
    assert "王伟" in text
    if kind == "sms" and lang == "en":  # lines joined by the template keep their space
        assert not re.search(r"[a-z][.!?,;:][A-Z]", text), text


def _renderer(tmp_path: Path, source: str) -> Renderer:
    (tmp_path / "sms").mkdir(exist_ok=True)
    (tmp_path / "sms" / "promo.zh.j2").write_text(source, encoding="utf-8")
    return Renderer(tmp_path)


@pytest.mark.parametrize(
    "source",
    [
        "到店地址:{{ store.address }}。",  # the instance
        "您的{{ vehicles[0].plate }}到期了",
        "{{ '地址:' ~ store.address }}",  # concatenation
        "{{ vehicles|map(attribute='model')|join('、') }}",  # a list with an empty item
        "{{ vehicles|join('、', attribute='plate') }}",
        "{{ store.sms_sender|string }}",
        "{{ '电话%s'|format(store.phone) }}",
        "{{ customer.region|upper }}",
        "{% set where = store.address %}{{ where }}",
    ],
)
def test_an_empty_value_fails_the_preview_naming_line_campaign_and_customer(
    tmp_path: Path, source: str
) -> None:
    renderer = _renderer(tmp_path, "您好\n" + source)
    ctx = sparse_context("promo", "zh", channel="sms")
    with pytest.raises(CampaignTemplateError) as err:
        renderer.check_campaign("promo", [ctx])
    [problem] = err.value.problems
    assert problem.where.endswith("promo.zh.j2:2")
    assert (problem.campaign, problem.customer_id) == ("promo", "C1")
    assert "None" in problem.message and "default" in problem.message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("地址:{{ store.address or '请来电询问' }}", "地址:请来电询问"),
        ("地址:{{ store.address|default('请来电询问', true) }}", "地址:请来电询问"),
        ("{% if store.address %}地址:{{ store.address }}{% endif %}好", "好"),
        ("{{ '电话:' ~ (store.phone or '前台') }}", "电话:前台"),
        ("{{ [store.name, store.address]|select|join(',') }}", "泉州店"),
        ("{% if customer.region is none %}无{% endif %}", "无"),
    ],
)
def test_a_template_that_says_what_to_print_when_empty_renders(
    tmp_path: Path, source: str, expected: str
) -> None:
    renderer = _renderer(tmp_path, source)
    text = renderer.render_sms("promo", "zh", sparse_context("promo", "zh", channel="sms")).text
    assert text == expected
