"""Rendering: filters, SMS segments, the context loader, every shipped template, and the
preview check (undefined variables, sandbox, segment cap)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import Session

from revisit.campaigns.outcome_codes import canonical
from revisit.cohorts.select import select_cohort
from revisit.errors import TemplateError
from revisit.rendering import (
    GSM7,
    UCS2,
    CampaignTemplateError,
    MemberRef,
    Renderer,
    RenderFailure,
    SmsLength,
    cn_date,
    en_date,
    load_contexts,
    mask_phone,
    member_refs,
    money,
    plate,
    sms_segments,
)
from tests.factories import (
    make_customer,
    make_policy,
    make_store,
    make_upsell_item,
    make_vehicle,
    make_visit,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
AS_OF = dt.date(2026, 11, 10)
CAMPAIGNS = [
    "first_service_due",
    "maintenance_due",
    "insurance_renewal",
    "lapsed_6_12",
    "lapsed_12_24",
    "lapsed_24_plus",
    "declined_a",
    "declined_b",
    "declined_c",
    "post_service_followup",
    "birthday",
]
CALL_CAMPAIGNS = {"declined_a", "post_service_followup"}


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (cn_date, dt.date(2026, 11, 22), "2026年11月22日"),
        (cn_date, dt.date(2026, 1, 5), "2026年1月5日"),
        (cn_date, dt.datetime(2026, 11, 22, 23, 59), "2026年11月22日"),
        (cn_date, "2026-02-28", "2026年2月28日"),
        (en_date, dt.date(2026, 11, 22), "22 Nov 2026"),
        (en_date, dt.date(2024, 2, 29), "29 Feb 2024"),
        (money, 1280, "¥1,280"),
        (money, Decimal("1280.50"), "¥1,280.50"),
        (money, 1280.5, "¥1,280.50"),
        (money, Decimal("1280.00"), "¥1,280"),
        (money, 0, "¥0"),
        (money, 1234567.891, "¥1,234,567.89"),
        (money, -35, "-¥35"),
        (plate, "闽C12345", "闽C·12345"),
        (plate, "闽c 12345", "闽C·12345"),
        (plate, "闽C-12345", "闽C·12345"),
        (plate, "闽C·12345", "闽C·12345"),
        (plate, "粤BD12345", "粤B·D12345"),
        (plate, "ABC123", "ABC123"),
        (plate, None, ""),
        (mask_phone, "+8613912345678", "+86 139****5678"),
        (mask_phone, "13912345678", "+86 139****5678"),
        (mask_phone, "+8659187654321", "+86 591****4321"),
        (mask_phone, "+85291234567", "+852 91****67"),
        (mask_phone, None, ""),
    ],
)
def test_filters(fn: Any, value: Any, expected: str) -> None:
    assert fn(value) == expected


@pytest.mark.parametrize(("fn", "value"), [(cn_date, None), (en_date, "soon"), (money, None)])
def test_filters_refuse_missing_values(fn: Any, value: Any) -> None:
    with pytest.raises(ValueError, match="not a"):
        fn(value)


# --- SMS segments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", GSM7, 42, 1),
        ("{" * 80, GSM7, 160, 1),  # extension characters count two septets
        ("€" * 81, GSM7, 162, 2),
        ("a" * 159 + "^", GSM7, 161, 2),
        ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),  # an escape pair is never split
        ("中" * 70, UCS2, 70, 1),
        ("中" * 71, UCS2, 71, 2),
        ("中" * 134, UCS2, 134, 2),
        ("中" * 135, UCS2, 135, 3),
        ("a" * 69 + "ç", UCS2, 70, 1),  # ç is not GSM-7 (only Ç is)
        ("a" * 70 + "·", UCS2, 71, 2),
        ("😀" * 35, UCS2, 70, 1),  # outside the BMP: two UTF-16 units
        ("😀" * 36, UCS2, 72, 2),
        ("中" * 66 + "😀" + "中" * 66, UCS2, 134, 3),  # a surrogate pair is never split
    ],
)
def test_sms_segments(text: str, encoding: str, units: int, segments: int) -> None:
    assert sms_segments(text) == SmsLength(encoding, units, segments)


@given(st.text(max_size=600))
def test_segments_hold_every_unit(text: str) -> None:
    length = sms_segments(text)
    per_segment = 160 if length.encoding == GSM7 else 70
    if length.segments > 1:
        per_segment = 153 if length.encoding == GSM7 else 67
    assert length.units <= length.segments * per_segment
    assert (length.units == 0) == (length.segments == 0)


@given(st.text(alphabet="a€{中😀 ", max_size=400))
def test_segments_pack_units_greedily(text: str) -> None:
    """Whatever path counts them, a text's segments are its units packed in order, a
    two-unit character never cut (the escape pair of GSM-7, the surrogate pair of UCS-2)."""
    length = sms_segments(text)
    if length.encoding == GSM7:
        costs = [2 if ch in "€{" else 1 for ch in text]
        single, per_segment = 160, 153
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, per_segment = 70, 67
    assert length.units == sum(costs)
    segments, used = (1 if costs else 0), 0
    if sum(costs) > single:
        for cost in costs:
            if used + cost > per_segment:
                segments, used = segments + 1, 0
            used += cost
    assert length.segments == segments


# --- a realistic store, built with the factories -----------------------------------------------


def _world(session: Session) -> dict[str, Any]:
    store = make_store(
        session,
        store_id="FZ01",
        name="福州闽运大众4S店",
        phone="0591-87654321",
        sms_sender="闽运大众",
        address="福州市仓山区建新镇",
    )
    zh = make_customer(
        session, name="王建国", store_id=store.store_id, birthday=dt.date(1980, 11, 10)
    )
    en = make_customer(
        session, name="David Lee", store_id=store.store_id, language="en", region="福州"
    )
    ids: dict[str, Any] = {"store": store.store_id, "zh": zh.customer_id, "en": en.customer_id}
    for key, customer in (("zh", zh), ("en", en)):
        car = make_vehicle(
            session,
            customer=customer,
            plate="闽A12345" if key == "zh" else "闽A67890",
            model="帕萨特 330TSI",
            purchase_date=dt.date(2023, 5, 1),
        )
        make_visit(
            session,
            vehicle=car,
            date=dt.date(2023, 8, 2),
            type="first_service",
            mileage_km=5100,
            amount=0,
            advisor="陈明",
        )
        last = make_visit(
            session,
            vehicle=car,
            date=dt.date(2026, 11, 7),
            type="maintenance",
            mileage_km=32000,
            amount=Decimal("1280.50"),
            advisor="李娜",
        )
        item_a = make_upsell_item(session, visit=last, item="前刹车片", grade="A", amount=680)
        make_upsell_item(
            session,
            visit=last,
            item="空调滤芯",
            grade="B",
            amount=Decimal("158.00"),
            due_date=dt.date(2026, 11, 20),
        )
        make_upsell_item(session, visit=last, item="轮胎", grade="C", amount=1600)
        make_upsell_item(session, visit=last, item="雨刮片", grade="B", status="accepted")
        policy = make_policy(
            session, vehicle=car, expiry_date=dt.date(2026, 12, 1), insurer="平安保险"
        )
        ids[f"{key}_vin"], ids[f"{key}_item_a"] = car.vin, item_a.item_id
        ids[f"{key}_policy"] = policy.policy_id
    session.commit()
    return ids


def _members(campaign: str, w: dict[str, Any], session: Session) -> list[MemberRef]:
    if campaign == "declined_b":  # the due date is the cohort's: the item's own
        return member_refs(select_cohort(session, cohort=campaign, as_of=AS_OF))
    out = []
    for key in ("zh", "en"):
        details: dict[str, Any] = {}
        if campaign in ("first_service_due", "maintenance_due"):
            details["due_date"] = dt.date(2026, 11, 22)
        if campaign == "insurance_renewal":
            details["policy_id"] = w[f"{key}_policy"]
        if campaign == "declined_a":
            details["item_ids"] = [w[f"{key}_item_a"]]
        vins = [] if campaign == "birthday" else [w[f"{key}_vin"]]
        out.append(MemberRef(w[key], vins, details))
    return out


def _contexts(engine: Any, campaign: str, *, channel: str = "sms") -> dict[str, dict[str, Any]]:
    with Session(engine) as s:
        w = _world(s)
        return load_contexts(
            s,
            campaign_name=campaign,
            cohort=campaign,
            channel=channel,
            as_of=AS_OF,
            members=_members(campaign, w, s),
        )


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(TEMPLATES)


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_every_shipped_template_renders(engine: Any, renderer: Renderer, campaign: str) -> None:
    contexts = _contexts(engine, campaign)
    assert renderer.check_campaign(campaign, contexts, max_segments=4) == []
    assert renderer.check_campaign(campaign, contexts, channel="call") == []
    for ctx in contexts.values():
        for lang in ("zh", "en"):
            sms = renderer.render_sms(campaign, lang, ctx)
            assert sms.template == f"sms/{campaign}.{lang}.j2"
            assert "\n" not in sms.text and "{" not in sms.text
            # A +86 customer cannot reply (Twilio's China SMS is one-way): the store's phone.
            phone = ctx["store"]["phone"]
            assert sms.text.endswith(
                f"退订请致电{phone}" if lang == "zh" else f"To opt out, call {phone}"
            )
            assert "闽运大众" in sms.text
            if campaign != "birthday":
                assert "闽A·" in sms.text
            sheet = renderer.render_call_sheet(campaign, lang, ctx)
            assert ctx["customer"]["name"] in sheet
            declined = {
                "zh": ("拒绝 · 亲友修理厂", "拒绝 · 里程少"),
                "en": ("declined: relative_garage", "declined: low_mileage"),
            }[lang]
            assert all(text in sheet for text in declined)
            # every outcome the sheet tells the caller to write is one the import reads
            for code in re.findall(r"<code>([^<]+)</code>", sheet):
                assert all(canonical(part) for part in re.split(r" · |: ", code)), code
            assert 'id="sheet-' in sheet


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_zh_sms_fits_two_segments(engine: Any, renderer: Renderer, campaign: str) -> None:
    contexts = _contexts(engine, campaign)
    zh = next(c for c in contexts.values() if c["language"] == "zh")
    sms = renderer.render_sms(campaign, "zh", zh)
    assert sms.encoding == UCS2
    assert sms.segments <= 2, sms.text


def test_sms_names_reason_and_due_date(engine: Any, renderer: Renderer) -> None:
    contexts = _contexts(engine, "maintenance_due")
    by_lang = {c["language"]: c for c in contexts.values()}
    zh = renderer.render_sms("maintenance_due", "zh", by_lang["zh"]).text
    en = renderer.render_sms("maintenance_due", "en", by_lang["en"]).text
    assert zh.startswith("【闽运大众】王建国您好") and "2026年11月22日" in zh and "保养" in zh
    assert "0591-87654321" in zh
    assert "22 Nov 2026" in en and "David Lee" in en and "0591-87654321" in en


# --- the context loader -----------------------------------------------------------------------


def test_context_carries_the_documented_fields(engine: Any) -> None:
    contexts = _contexts(engine, "declined_b")
    ctx = next(c for c in contexts.values() if c["language"] == "zh")
    assert set(ctx) >= {
        "customer",
        "vehicles",
        "store",
        "campaign",
        "as_of",
        "due_date",
        "upsell_items",
        "policies",
        "history",
        "opt_out_hint",
        "language",
        "last_advisor",
        "details",
    }
    assert ctx["customer"]["phone_masked"].startswith("+86 139****")
    assert ctx["store"] == {
        "store_id": "FZ01",
        "name": "福州闽运大众4S店",
        "phone": "0591-87654321",
        "address": "福州市仓山区建新镇",
        "sms_sender": "闽运大众",
        "timezone": "Asia/Shanghai",
    }
    assert ctx["campaign"] == {
        "name": "declined_b",
        "cohort": "declined_b",
        "channel": "sms",
        "marketing": True,
    }
    # grade B, declined only; the item's own due date is the vehicle's due date
    assert [i["item"] for i in ctx["upsell_items"]] == ["空调滤芯"]
    assert ctx["due_date"] == dt.date(2026, 11, 20)
    (car,) = ctx["vehicles"]
    assert car["last_visit_date"] == dt.date(2026, 11, 7)
    assert car["last_mileage_km"] == 32000 and car["car_age_years"] == 3
    assert [h["type"] for h in ctx["history"]] == ["maintenance", "first_service"]
    assert ctx["last_advisor"] == "李娜"
    assert [p["insurer"] for p in ctx["policies"]] == ["平安保险"]


def test_context_replays_as_of_and_estimates_due_dates(engine: Any) -> None:
    """The due date is the cohort's estimate, carried by the member (nothing is estimated
    again when rendering)."""
    as_of = dt.date(2025, 9, 20)
    with Session(engine) as s:
        car = make_vehicle(s, purchase_date=dt.date(2025, 1, 10))
        make_visit(s, vehicle=car, date=dt.date(2025, 4, 1), type="first_service")
        make_visit(s, vehicle=car, date=dt.date(2026, 1, 1), type="repair")  # after as_of
        s.commit()
        members = member_refs(select_cohort(s, cohort="maintenance_due", as_of=as_of))
        (ctx,) = load_contexts(
            s,
            campaign_name="m",
            cohort="maintenance_due",
            channel="sms",
            as_of=as_of,
            members=members,
        ).values()
    assert [h["date"] for h in ctx["history"]] == [dt.date(2025, 4, 1)]
    assert ctx["due_date"] == dt.date(2025, 4, 1) + dt.timedelta(days=180)


def test_members_of_one_customer_merge_into_one_context(engine: Any) -> None:
    with Session(engine) as s:
        owner = make_customer(s)
        old = make_vehicle(s, customer=owner, purchase_date=dt.date(2020, 3, 1))
        new = make_vehicle(s, customer=owner, purchase_date=dt.date(2024, 3, 1))
        make_vehicle(s, customer=owner, status="sold")
        s.commit()
        members = [
            MemberRef(owner.customer_id, [new.vin], {"due_date": "2026-12-01"}),
            MemberRef(owner.customer_id, [old.vin], {"due_date": dt.date(2026, 11, 20)}),
        ]
        contexts = load_contexts(
            s,
            campaign_name="m",
            cohort="maintenance_due",
            channel="sms",
            as_of=AS_OF,
            members=members,
        )
        birthday = load_contexts(
            s,
            campaign_name="b",
            cohort="birthday",
            channel="sms",
            as_of=AS_OF,
            members=[MemberRef(owner.customer_id)],
            marketing=False,
        )
    (ctx,) = contexts.values()
    assert [v["vin"] for v in ctx["vehicles"]] == [new.vin, old.vin]
    assert ctx["due_date"] == dt.date(2026, 11, 20)
    # a customer-level member gets the customer's active vehicles, and no opt-out hint
    assert {v["vin"] for v in birthday[owner.customer_id]["vehicles"]} == {old.vin, new.vin}
    assert birthday[owner.customer_id]["opt_out_hint"] == ""


def test_member_refs_from_cohort_members() -> None:
    class Member:
        def __init__(self, vin: str | None, **kw: Any) -> None:
            self.customer_id, self.vin = "C1", vin
            self.__dict__.update(kw)

    refs = member_refs(
        [Member("V1", expiry_date=dt.date(2026, 12, 1), policy_id="P1"), Member("V2", item_ids=())]
    )
    assert len(refs) == 1 and refs[0].vins == ["V1", "V2"]
    assert refs[0].details["due_dates"] == {"V1": dt.date(2026, 12, 1)}
    assert refs[0].details["policy_ids"] == ["P1"]


def test_unknown_customer_or_vin_is_an_error(engine: Any) -> None:
    with Session(engine) as s:
        customer = make_customer(s)
        s.commit()
        for member, match in [
            (MemberRef("NOPE"), "unknown customer ids: NOPE"),
            (MemberRef(customer.customer_id, ["VIN-NOPE"]), "unknown VINs: VIN-NOPE"),
        ]:
            with pytest.raises(LookupError, match=match):
                load_contexts(
                    s,
                    campaign_name="m",
                    cohort="birthday",
                    channel="sms",
                    as_of=AS_OF,
                    members=[member],
                )


def _count_queries(engine: Any, members: list[MemberRef]) -> int:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as s:
            contexts = load_contexts(
                s,
                campaign_name="m",
                cohort="declined_c",
                channel="sms",
                as_of=AS_OF,
                members=members,
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(contexts) == len({m.customer_id for m in members})
    return len(statements)


def test_batch_loading_does_not_query_per_member(engine: Any) -> None:
    members = []
    with Session(engine) as s:
        for n in range(300):
            car = make_vehicle(s, customer=make_customer(s))
            visit = make_visit(s, vehicle=car, date=dt.date(2026, 5, 1), advisor=f"A{n % 3}")
            make_upsell_item(s, visit=visit, grade="C")
            members.append(MemberRef(car.customer_id, [car.vin]))
        s.commit()
    few, many = _count_queries(engine, members[:3]), _count_queries(engine, members)
    assert few == many <= 8


# --- the preview check ------------------------------------------------------------------------


def _templates(tmp_path: Path, **files: str) -> Renderer:
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Renderer(tmp_path)


def _ctx(cid: str, **extra: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "customer": {"customer_id": cid, "name": "王", "language": "zh"},
        "language": "zh",
        "upsell_items": [],
        "opt_out_hint": "回复TD退订",
    }
    ctx.update(extra)
    return ctx


def test_undefined_variable_fails_the_preview_naming_customer_and_template(
    tmp_path: Path,
) -> None:
    r = _templates(tmp_path, **{"sms__oops.zh.j2": "您好\n{{ customer.nickname }}\n"})
    with pytest.raises(CampaignTemplateError) as err:
        r.check_campaign("oops", [_ctx("C000042")])
    message = str(err.value)
    assert isinstance(err.value, TemplateError)
    assert "campaign oops" in message and "C000042" in message
    assert "sms/oops.zh.j2:2" in message and "nickname" in message


def test_syntax_error_names_the_template_line(tmp_path: Path) -> None:
    r = _templates(tmp_path, **{"sms__broken.zh.j2": "您好\n\n{% if %}x{% endif %}"})
    with pytest.raises(CampaignTemplateError, match=r"broken\.zh\.j2:3") as err:
        r.check_campaign("broken", [_ctx("C7")])
    assert err.value.problems[0].customer_id == "C7"


def test_campaign_files_name_shipped_templates() -> None:
    campaigns = sorted((TEMPLATES.parent / "campaigns").glob("*.yaml"))
    assert {p.stem for p in campaigns} >= set(CAMPAIGNS)
    for path in campaigns:
        for lang, name in yaml.safe_load(path.read_text(encoding="utf-8"))["templates"].items():
            assert (TEMPLATES / name).is_file(), f"{path.name}: templates.{lang}: {name}"
    for campaign in CAMPAIGNS:
        for kind in ("sms", "calls"):
            for lang in ("zh", "en"):
                assert (TEMPLATES / kind / f"{campaign}.{lang}.j2").is_file()


def test_a_template_failing_on_one_member_fails_the_campaign(tmp_path: Path) -> None:
    r = _templates(tmp_path, **{"sms__items.zh.j2": "{{ upsell_items[0].item }}需要更换"})
    good = _ctx("C1", upsell_items=[{"item": "刹车片"}])
    problems = r.check_campaign("items", [good, _ctx("C2")], raise_errors=False)
    assert [(p.customer_id, p.where.endswith("items.zh.j2:1")) for p in problems] == [("C2", True)]
    with pytest.raises(CampaignTemplateError, match="1 member"):
        r.check_campaign("items", {"C1": good, "C2": _ctx("C2")})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ customer.__class__.__mro__ }}",
        "{{ cn_date.__globals__ }}",
        "{{ upsell_items.append(1) }}",
        # a context's dicts: their own methods still go through the sandbox's checks
        "{{ customer.clear() }}",
        "{{ customer.update(name='x') }}",
        "{{ customer.pop('name') }}",
        "{{ customer.__init__ }}",
    ],
)
def test_sandbox_blocks_unsafe_access(tmp_path: Path, source: str) -> None:
    r = _templates(tmp_path, **{"sms__evil.zh.j2": "x\n" + source})
    with pytest.raises(RenderFailure) as err:
        r.render_sms("evil", "zh", _ctx("C1", cn_date=cn_date))
    assert err.value.where.endswith("evil.zh.j2:2")
    assert "unsafe" in str(err.value) or "undefined" in str(err.value)


def test_a_missing_field_of_a_context_dict_fails_the_render(tmp_path: Path) -> None:
    r = _templates(tmp_path, **{"sms__field.zh.j2": "{{ customer.name }}\n{{ customer.nickname }}"})
    with pytest.raises(RenderFailure) as err:
        r.render_sms("field", "zh", _ctx("C1"))
    assert err.value.where.endswith("field.zh.j2:2")
    assert "nickname" in str(err.value)


def test_segment_cap_is_enforced(tmp_path: Path) -> None:
    r = _templates(tmp_path, **{"sms__long.zh.j2": "{{ '保养' * n }}"})
    assert r.check_campaign("long", [_ctx("C1", n=35)], max_segments=1) == []
    with pytest.raises(CampaignTemplateError, match="2 UCS-2 segments, over the cap of 1"):
        r.check_campaign("long", [_ctx("C1", n=35), _ctx("C2", n=36)], max_segments=1)


def test_language_falls_back_to_zh_with_a_zh_opt_out_hint(tmp_path: Path) -> None:
    r = _templates(tmp_path, **{"sms__only.zh.j2": "您好\n{{ opt_out_hint }}"})
    sms = r.render_sms("only", "en", _ctx("C1", opt_out_hint="Reply STOP to opt out"))
    assert (sms.text, sms.template) == ("您好回复TD退订", "sms/only.zh.j2")
    with pytest.raises(TemplateError, match="no sms template"):
        r.render_sms("missing", "en", _ctx("C1"))


def test_campaign_file_template_paths_are_used(tmp_path: Path) -> None:
    r = _templates(tmp_path, **{"sms__custom.en.j2": "Hi {{ customer.name }}\nthere"})
    sms = r.render_sms("whatever", "en", _ctx("C1"), templates={"en": "sms/custom.en.j2"})
    assert (sms.text, sms.encoding, sms.segments) == ("Hi 王 there", UCS2, 1)


def test_call_sheets_escape_customer_data(engine: Any, renderer: Renderer) -> None:
    contexts = _contexts(engine, "declined_a", channel="call")
    ctx = next(iter(contexts.values()))
    ctx["customer"]["name"] = "<script>x</script>"
    sheet = renderer.render_call_sheet("declined_a", "zh", ctx)
    assert "<script>" not in sheet and "&lt;script&gt;" in sheet
    assert "前刹车片" in sheet and "¥680" in sheet
