"""A caller's day: the calls waiting for them, a contact's call sheet, a customer's record.

Nothing here writes (outcomes go through :func:`revisit.outcomes.calls.log_call_outcome`).
Every function takes the stores the asking user sees (``store_ids``; None for every
store): a contact or customer of another store is not found — the same answer as an id
that does not exist.

Today's calls of a caller are the call contacts handed to them (``listed``) and their
callbacks (``pending``, with their caller already set) due within the last
:data:`LOOKBACK_DAYS` days up to ``day``, of a run that is not paused, that have no call
outcome yet, in their stores; highest priority first, then the oldest day, then the earliest
due date. The same rule (:func:`why_not_callable`) decides whether a call sheet may be
worked: any other contact (holdout, excluded, suppressed, expired, not yet listed, another
caller's, a paused run's) is one not to call, and says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.outcome_codes import OutcomeKind
from revisit.campaigns.statuses import ChannelKind, ContactStatus, ReplyCode, RunStatus
from revisit.db.tables import CAMPAIGNS, CONTACTS, CUSTOMERS, OUTCOMES, RUNS, STORES
from revisit.delivery.calls import REASONS
from revisit.outcomes.amend import Amendment, last_amendment
from revisit.rendering import Renderer, load_contexts, refs_from_details
from revisit.settings import DEFAULT_TIMEZONE, Settings

LOOKBACK_DAYS = 7  # a call not made on its day stays on the list this long
WAITING_CALL = (ContactStatus.LISTED, ContactStatus.PENDING)
#: Statuses of contacts that were never to be contacted at all (the contact's ``reason``
#: says why for excluded and suppressed).
NEVER_CONTACTED = (ContactStatus.HOLDOUT, ContactStatus.EXCLUDED, ContactStatus.SUPPRESSED)


@dataclass(frozen=True)
class CallItem:
    """One call on a caller's list: the contact, its customer (name, phone in E.164, store),
    campaign, day, priority, the earliest due date of its vehicles and whether it is a
    callback."""

    contact_id: int
    customer_id: str
    name: str
    phone: str | None
    store_id: str
    campaign: str
    cohort: str
    as_of: dt.date
    priority: int
    due_date: dt.date | None
    callback: bool

    def reason(self, lang: str) -> str:
        """Why we call, in ``lang`` (the call lists' wording)."""
        labels = REASONS.get(self.cohort)
        return (labels[1] if lang == "en" else labels[0]) if labels else self.cohort


def _in_scope(store_ids: Collection[str] | None) -> Any:
    return True if store_ids is None else CUSTOMERS.c.store_id.in_(sorted(store_ids))


def _due(details: Any) -> dt.date | None:
    days = []
    for entry in details or []:
        value = entry.get("due_date") if isinstance(entry, dict) else None
        if value:
            try:
                days.append(dt.date.fromisoformat(str(value)[:10]))
            except ValueError:
                continue
    return min(days, default=None)


def todays_calls(
    engine: Engine, *, caller: str, store_ids: Collection[str] | None, day: dt.date
) -> list[CallItem]:
    """The calls waiting for ``caller`` on ``day`` (see the module docstring), in order."""
    c, cu, o, r = CONTACTS.c, CUSTOMERS.c, OUTCOMES.c, RUNS.c
    answered = exists().where(o.contact_id == c.id, o.kind == OutcomeKind.CALL.value)
    waiting = or_(
        c.status == ContactStatus.LISTED.value,
        and_(c.status == ContactStatus.PENDING.value, c.callback_of.is_not(None)),
    )
    query = (
        select(c.id, c.customer_id, cu.name, cu.phone, cu.store_id, c.campaign,
               CAMPAIGNS.c.cohort, c.as_of, c.priority, c.details, c.callback_of)
        .join(CUSTOMERS, cu.customer_id == c.customer_id)
        .join(CAMPAIGNS, CAMPAIGNS.c.name == c.campaign)
        .join(RUNS, r.id == c.run_id)
        .where(
            c.channel == ChannelKind.CALL.value, c.caller == caller, waiting,
            r.status != RunStatus.PAUSED.value, r.paused_by.is_(None),
            c.as_of <= day, c.as_of > day - dt.timedelta(days=LOOKBACK_DAYS),
            _in_scope(store_ids), ~answered,
        )
    )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [
        CallItem(
            contact_id=r.id, customer_id=r.customer_id, name=r.name, phone=r.phone,
            store_id=r.store_id, campaign=r.campaign, cohort=r.cohort, as_of=r.as_of,
            priority=r.priority, due_date=_due(r.details), callback=r.callback_of is not None,
        )
        for r in rows
    ]  # fmt: skip
    items.sort(key=lambda i: (-i.priority, i.as_of, i.due_date is None, i.due_date, i.contact_id))
    return items


def next_call(
    engine: Engine, *, caller: str, store_ids: Collection[str] | None, day: dt.date
) -> CallItem | None:
    """The first of :func:`todays_calls`, or None when the list is done."""
    calls = todays_calls(engine, caller=caller, store_ids=store_ids, day=day)
    return calls[0] if calls else None


@dataclass
class CustomerRecord:
    """A customer as staff see them: who, their store and its IANA time zone (the one every
    time on their pages is shown in), their contacts (newest first), the outcomes recorded
    (newest first) and the replies that are not keywords (the inbox)."""

    customer_id: str
    name: str
    phone: str | None
    store_id: str
    language: str
    timezone: str = DEFAULT_TIMEZONE
    contacts: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)


def customer_record(
    engine: Engine, *, customer_id: str, store_ids: Collection[str] | None
) -> CustomerRecord | None:
    """The customer's record, or None when there is no such customer in ``store_ids``."""
    cu = CUSTOMERS.c
    with engine.connect() as conn:
        row = conn.execute(
            select(cu.customer_id, cu.name, cu.phone, cu.store_id, cu.language, STORES.c.timezone)
            .outerjoin(STORES, STORES.c.store_id == cu.store_id)
            .where(cu.customer_id == customer_id, _in_scope(store_ids))
        ).first()
        if row is None:
            return None
        record = CustomerRecord(row.customer_id, row.name, row.phone, row.store_id, row.language,
                                row.timezone or DEFAULT_TIMEZONE)  # fmt: skip
        _fill_history(conn, record)
    return record


def _fill_history(conn: Connection, record: CustomerRecord) -> None:
    c, o = CONTACTS.c, OUTCOMES.c
    contacts = conn.execute(
        select(c.id, c.campaign, c.as_of, c.channel, c.status, c.reason, c.caller, c.sent_at)
        .where(c.customer_id == record.customer_id)
        .order_by(c.as_of.desc(), c.id.desc())
        .limit(50)
    )
    record.contacts = [dict(r._mapping) for r in contacts]
    outcomes = conn.execute(
        select(o.id, o.contact_id, o.kind, o.code, o.detail, o.callback_date, o.staff, o.note,
               o.created_at)
        .where(o.customer_id == record.customer_id)
        .order_by(o.created_at.desc(), o.id.desc())
        .limit(100)
    )  # fmt: skip
    for r in outcomes:
        item = dict(r._mapping)
        if r.kind == OutcomeKind.REPLY.value:
            if r.code == ReplyCode.MESSAGE.value:
                record.inbox.append(item)
            continue
        record.outcomes.append(item)


#: Why a contact is not to be called: words key (revisit.web.i18n) and its values.
Blocked = tuple[str, dict[str, str]]


def why_not_callable(
    contact: Any, *, run_status: str, run_paused_by: str | None, caller: str, day: dt.date
) -> Blocked | None:
    """None when ``caller`` may work the call contact (a contacts row) on ``day`` — the rule
    of :func:`todays_calls`, an outcome already recorded aside — else why not: never to be
    contacted (holdout, excluded or suppressed, with the contact's reason), expired, not
    handed to a caller (still pending, failed, …), its run paused, a callback not due yet,
    a call older than :data:`LOOKBACK_DAYS` days, or another caller's."""
    status = str(contact.status)
    if status in NEVER_CONTACTED:
        return f"why_{status}", {"reason": str(contact.reason or "")}
    if status == ContactStatus.EXPIRED:
        return "why_expired", {}
    waiting_callback = status == ContactStatus.PENDING and contact.callback_of is not None
    if status != ContactStatus.LISTED and not waiting_callback:
        return "why_not_listed", {"status": status}
    if run_status == RunStatus.PAUSED or run_paused_by:
        return "why_paused", {"who": run_paused_by or ""}
    if contact.as_of > day:
        return "why_not_due", {"day": contact.as_of.isoformat()}
    if contact.as_of <= day - dt.timedelta(days=LOOKBACK_DAYS):
        return "why_too_old", {"day": contact.as_of.isoformat()}
    if contact.caller != caller:
        return "why_other_caller", {"caller": str(contact.caller or "—")}
    return None


@dataclass
class CallSheet:
    """A contact to call: its call-list item, the rendered call sheet (HTML, from the
    campaign's templates in the customer's language), the customer's record, why the asking
    caller may not call it (None when they may; see :func:`why_not_callable`), the call
    outcome already recorded for it (the newest; None when there is none) and who last
    amended that outcome, when (None when nobody did)."""

    item: CallItem
    sheet_html: str
    record: CustomerRecord
    blocked: Blocked | None = None
    recorded: dict[str, Any] | None = None
    amended: Amendment | None = None


def _campaign_of(conn: Connection, name: str) -> CampaignDef:
    definition = conn.execute(
        select(CAMPAIGNS.c.definition).where(CAMPAIGNS.c.name == name)
    ).scalar_one()
    return CampaignDef.model_validate(definition)


def call_sheet(
    engine: Engine,
    settings: Settings,
    *,
    contact_id: int,
    store_ids: Collection[str] | None,
    caller: str,
    day: dt.date,
) -> CallSheet | None:
    """The call sheet of a call contact as ``caller`` sees it on ``day``, or None when
    there is no such call contact in ``store_ids``. The sheet is rendered from the campaign
    as it was run (its definition kept in the ``campaigns`` table) and the details the
    contact keeps; ``blocked`` says why ``caller`` may not call it, if so."""
    c, cu, r = CONTACTS.c, CUSTOMERS.c, RUNS.c
    with engine.connect() as conn:
        row = conn.execute(
            select(CONTACTS, cu.name, cu.phone, cu.store_id, CAMPAIGNS.c.cohort,
                   r.status.label("run_status"), r.paused_by.label("run_paused_by"))
            .join(CUSTOMERS, cu.customer_id == c.customer_id)
            .join(CAMPAIGNS, CAMPAIGNS.c.name == c.campaign)
            .join(RUNS, r.id == c.run_id)
            .where(and_(c.id == contact_id, c.channel == ChannelKind.CALL.value),
                   _in_scope(store_ids))
        ).first()  # fmt: skip
        if row is None:
            return None
        campaign = _campaign_of(conn, row.campaign)
    item = CallItem(
        contact_id=row.id, customer_id=row.customer_id, name=row.name, phone=row.phone,
        store_id=row.store_id, campaign=row.campaign, cohort=row.cohort, as_of=row.as_of,
        priority=row.priority, due_date=_due(row.details), callback=row.callback_of is not None,
    )  # fmt: skip
    with Session(engine) as session:
        contexts = load_contexts(
            session, campaign_name=campaign.name, cohort=campaign.cohort,
            channel=ChannelKind.CALL, as_of=row.as_of,
            members=refs_from_details(row.customer_id, row.vins or [], row.details),
            campaign_vars=campaign.template_vars(),
        )  # fmt: skip
    ctx = contexts[row.customer_id]
    sheet = Renderer(settings.templates_dir).render_call_sheet(
        campaign.name, str(ctx.get("language") or "zh"), ctx, templates=campaign.templates
    )
    record = customer_record(engine, customer_id=row.customer_id, store_ids=store_ids)
    assert record is not None  # the contact's customer, in scope
    blocked = why_not_callable(row, run_status=row.run_status, run_paused_by=row.run_paused_by,
                               caller=caller, day=day)  # fmt: skip
    recorded = next((o for o in record.outcomes if o["contact_id"] == contact_id
                     and o["kind"] == OutcomeKind.CALL.value), None)  # fmt: skip
    amended = None
    if recorded is not None:
        with engine.connect() as conn:
            amended = last_amendment(conn, contact_id=contact_id, outcome_id=recorded["id"])
    return CallSheet(item=item, sheet_html=sheet, record=record, blocked=blocked,
                     recorded=recorded, amended=amended)  # fmt: skip
