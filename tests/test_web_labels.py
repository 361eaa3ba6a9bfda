"""Every page of the app in zh, as each role, shows no code and no English: a dealer group
whose history holds every contact status and reason, every run status, every outcome code
and detail, every reply, and a return. The codes come from the product's own enums, the
campaign files and the cohorts, so a code added without a label fails here; every enum
member has a label in both languages in the one catalogue (:mod:`revisit.campaigns.labels`)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from revisit.campaigns.labels import KINDS, label
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
    ReplyCode,
    RunStatus,
    SuppressionReason,
)
from revisit.cohorts.definitions import COHORTS, DueBasis
from revisit.db.tables import CONTACTS, OUTCOMES, RUNS
from revisit.entry.lookup import campaign_files
from tests.web_app_support import World, build_world, csrf_of, make_client, sign_in

USERS = {
    "王芳": ("staff", ["S1"]),
    "lead1": ("lead", ["S1"]),
    "manager1": ("manager", ["S1", "S2"]),
    "admin1": ("admin", []),
}
#: Latin words a zh page may show: file formats and the like, as Chinese staff write them.
ALLOWED_WORDS = {"CSV", "KPI", "SMS", "UTC", "Sedan"}  # Sedan: the test data's car model, a name


class _Text(HTMLParser):
    """The text a person sees on a page: no script, style or attribute; a file path shown
    (``<code class="path">``) is a name, not words."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style") or (tag == "code" and ("class", "path") in attrs):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") or (tag == "code" and self._hidden):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """What a person reads on ``html``."""
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def known_codes(world: World) -> set[str]:
    """Every code the product stores or prints: its enums' values, the campaign files' and
    the cohorts' names, why a vehicle is due."""
    codes: set[str] = {"returned"}
    enums = (ContactStatus, RunStatus, ExclusionReason, SuppressionReason, ChannelKind, CallCode,
             NotReached, DeclineReason, Dissatisfaction, ReplyCode, DueBasis)  # fmt: skip
    for enum in enums:
        codes |= {m.value for m in enum}
    codes |= set(campaign_files(world.settings).campaigns) | set(COHORTS)
    return codes


def problems(text: str, codes: set[str]) -> list[str]:
    """The codes and English words in a zh page's text."""
    found = [c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text, re.I)]
    words = re.findall(r"(?<![\w-])[A-Za-z][A-Za-z'’]{2,}(?![\w-])", text)
    return found + sorted({w for w in words if w not in ALLOWED_WORDS})


def _every_state(engine: Engine, world: World) -> tuple[str, list[int]]:
    """One S1 customer's history of every contact status and reason (in runs of every run
    status, each campaign in turn), every call outcome and detail, every reply, a return;
    the customer and the runs."""
    names = sorted(campaign_files(world.settings).campaigns)
    customer = world.customers["S1"][1]
    runs = []
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        for k, status in enumerate(RunStatus):
            day = world.today - dt.timedelta(days=40 + k)
            run_id = conn.execute(
                insert(RUNS)
                .values(
                    campaign="post_service_followup",
                    as_of=day,
                    status=status,
                    counts={"targeted": 1},
                    started_at=now,
                )
                .returning(RUNS.c.id)
            ).scalar_one()
            runs.append(run_id)
        states: list[tuple[str, str | None]] = [
            *((ContactStatus.EXCLUDED, r) for r in ExclusionReason),
            *((ContactStatus.SUPPRESSED, r) for r in SuppressionReason),
            *((s, None) for s in ContactStatus),
        ]
        contacts = []
        for k in range(max(len(states), len(names))):
            status, reason = states[k % len(states)]
            contacts.append(conn.execute(
                insert(CONTACTS).values(
                    run_id=runs[k % len(runs)], campaign=names[k % len(names)],
                    as_of=world.today - dt.timedelta(days=100 + k), customer_id=customer,
                    channel=[*ChannelKind][k % 2], status=status, reason=reason, created_at=now,
                ).returning(CONTACTS.c.id)
            ).scalar_one())  # fmt: skip
        details = {CallCode.NOT_REACHED: [*NotReached], CallCode.DECLINED: [*DeclineReason],
                   CallCode.DISSATISFIED: [*Dissatisfaction]}  # fmt: skip
        rows = [(OutcomeKind.CALL, code, detail) for code in CallCode
                for detail in details.get(code, [None])]  # fmt: skip
        rows += [(OutcomeKind.REPLY, code, None) for code in ReplyCode]
        rows += [(OutcomeKind.RETURN, "returned", None)]
        for k, (kind, code, detail) in enumerate(rows):
            conn.execute(insert(OUTCOMES).values(
                contact_id=contacts[k % len(contacts)], customer_id=customer, kind=kind,
                code=code, detail=detail, staff="王芳", note="客户说下周再说",
                callback_date=world.today if code == CallCode.CALLBACK else None, created_at=now,
            ))  # fmt: skip
    return customer, runs


@pytest.fixture
def walked(engine: Engine, tmp_path: Path) -> tuple[World, str, list[int]]:
    world = build_world(engine, tmp_path, USERS)
    customer, runs = _every_state(engine, world)
    return world, customer, runs


def _pages(world: World, customer: str, runs: list[int], role: str) -> list[str]:
    pages = ["/calls", "/password", f"/customers/{customer}", "/no-such-page"]
    pages += [f"/calls/{c}" for c in world.calls["S1"]]
    if role != "staff":
        pages += ["/campaigns", *(f"/runs/{r}" for r in [*runs, world.call_run])]
        names = sorted(campaign_files(world.settings).campaigns)
        pages += [f"/campaigns/{n}?day={world.today}" for n in names]
    if role in ("manager", "admin"):
        pages.append("/dashboard")
    return pages


def test_every_page_in_zh_shows_labels_not_codes(
    engine: Engine, walked: tuple[World, str, list[int]]
) -> None:
    world, customer, runs = walked
    codes = known_codes(world)
    seen: dict[str, list[str]] = {}
    anonymous = make_client(engine, world.settings)
    anonymous.headers["accept-language"] = "zh-CN"
    seen["/login"] = problems(visible_text(anonymous.get("/login").text), codes)
    for name, (role, _stores) in USERS.items():
        client = sign_in(make_client(engine, world.settings), name, world.passwords[name])
        client.headers["accept-language"] = "zh-CN,zh;q=0.9"
        for path in _pages(world, customer, runs, role):
            answer = client.get(path)
            assert answer.status_code in (200, 404), (role, path, answer.status_code)
            seen[f"{role} {path}"] = problems(visible_text(answer.text), codes)
        # a form that fails says why in zh
        first = world.calls["S1"][0]
        token = csrf_of(client.get(f"/calls/{first}").text)
        for form in ({"code": "declined"}, {"code": "callback"}, {"code": "flying"}):
            failed = client.post(f"/calls/{first}/outcome", data=form | {"csrf_token": token})
            seen[f"{role} outcome {form}"] = problems(visible_text(failed.text), codes)
        typed = {"current": "x" * 12, "new": "y" * 12, "repeat": "y" * 12, "csrf_token": token}
        wrong = client.post("/password", data=typed)
        seen[f"{role} password"] = problems(visible_text(wrong.text), codes)
    assert {where: found for where, found in seen.items() if found} == {}


def test_the_history_shows_every_state_by_its_label(
    engine: Engine, walked: tuple[World, str, list[int]]
) -> None:
    world, customer, _runs = walked
    client = sign_in(make_client(engine, world.settings), "admin1", world.passwords["admin1"])
    text = visible_text(
        client.get(f"/customers/{customer}", headers={"accept-language": "zh"}).text
    )
    for status in ContactStatus:
        assert label(status, "zh", "contact_status") in text, status
    for reason in [*ExclusionReason, *SuppressionReason]:
        assert label(reason, "zh", "contact_reason") in text, reason
    for code in [*CallCode, *NotReached, *DeclineReason]:
        assert label(code, "zh") in text, code
    english = client.get(f"/customers/{customer}", headers={"accept-language": "en"}).text
    assert "frequency cap" in visible_text(english) and "已排除" not in english


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_code_of_every_kind_has_a_label_in_both_languages(kind: str) -> None:
    enum, labels = KINDS[kind]
    if enum is None or kind == "outcome_kind":
        return
    for member in enum:
        zh, en = labels[member.value]
        assert zh and en and zh != member.value, (kind, member)
        assert not re.search(r"[A-Za-z]{3,}", zh.replace("SMS", "")), (kind, member, zh)


def test_every_shipped_campaign_has_a_title_in_both_languages(tmp_path: Path) -> None:
    from tests.web_app_support import web_settings

    for name, campaign in campaign_files(web_settings(tmp_path)).campaigns.items():
        assert set(campaign.title) == {"zh", "en"}, name
        assert campaign.display_name("zh") != name and campaign.display_name("en") != name
