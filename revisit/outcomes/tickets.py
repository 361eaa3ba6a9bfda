"""Dissatisfied-customer tickets (不满意客户问题跟踪单): every write to ``tickets`` is here.

The seeds: a dissatisfied customer found on a follow-up call gets a problem ticket to the
general manager and the service manager the same day. A ``dissatisfied`` call outcome
(:mod:`revisit.outcomes.calls`: a category and, in the note, the customer's words) opens one
ticket per contact — the contact a callback follows up counts as the callback's contact, and
importing the same call list twice opens nothing more — naming the
customer, the visit the call was about and its advisor, what they said, who called, when,
and its owner: the store's service manager (``REVISIT_SERVICE_MANAGERS``; else
``service_manager_<store>``, as the call lists say). The store's managers are told through
the staff webhook with the phone masked, once per ticket (:func:`notify_new_tickets`). A later
dissatisfied outcome on a contact that has its ticket adds its words to it (dated, the old
ones kept), and the webhook is told of the addition once.

A ticket moves ``open → in_progress → resolved`` (or straight to resolved), a resolution
always with a note; one not resolved a day after it was opened is flagged overdue
(:data:`revisit.campaigns.statuses.TICKET_OVERDUE_AFTER`). :func:`list_tickets` is what the
CLI and the web app read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from revisit.campaigns.outcome_codes import label
from revisit.campaigns.statuses import ChannelKind, TicketStatus, ticket_overdue
from revisit.db.engine import insert_ignore
from revisit.db.tables import CONTACTS, CUSTOMERS, STORES, TICKETS, VISITS, utcnow
from revisit.delivery.calls import MANAGER_LIST
from revisit.delivery.notify import post_markdown
from revisit.dms.phones import mask_phone
from revisit.errors import RevisitError
from revisit.settings import DEFAULT_TIMEZONE


class TicketError(RevisitError):
    """A ticket that does not exist, or a move its status does not allow."""

    exit_code = 1


@dataclass(frozen=True)
class Complaint:
    """What opens a ticket: the call contact (a ``contacts`` row) and what was recorded."""

    contact: Any
    category: str  # a Dissatisfaction
    words: str
    caller: str | None


def _visit_of(contact: Any) -> tuple[str | None, str | None]:
    """(vin, visit id) the contact was about: its first member with a visit (a follow-up
    call's visit), else its only vehicle."""
    for member in contact.details or []:
        if member.get("visit_id"):
            return member.get("vin"), str(member["visit_id"])
    vins = list(contact.vins or [])
    return (vins[0] if vins else None), None


@dataclass
class Opened:
    """What :func:`open_tickets` did: tickets opened, and for each complaint whose contact
    already had its ticket, (ticket id, its status, whether the words were added)."""

    opened: int = 0
    existing: list[tuple[int, str, bool]] | None = None


def root_contact(contact: Any) -> int:
    """The contact a ticket belongs to: the one a callback follows up, else the contact."""
    return int(contact.callback_of or contact.id)


def open_tickets(
    conn: Connection,
    complaints: Sequence[Complaint],
    *,
    managers: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Opened:
    """Open a ticket per complaint's contact (a callback's: the contact it follows up), in
    ``conn``'s transaction. A contact that already has one keeps it: a re-imported call list
    opens nothing, and words it does not hold yet are added to it, dated in the store's time
    zone, to be announced (:func:`notify_new_tickets`). ``managers``: store id → service
    manager, the owner."""
    done = Opened(existing=[])
    assert done.existing is not None
    if not complaints:
        return done
    now = now or utcnow()
    ids = sorted({c.contact.customer_id for c in complaints})
    stores = {
        row.customer_id: (str(row.store_id or ""), row.timezone or DEFAULT_TIMEZONE)
        for row in conn.execute(
            select(CUSTOMERS.c.customer_id, CUSTOMERS.c.store_id, STORES.c.timezone)
            .join_from(CUSTOMERS, STORES, STORES.c.store_id == CUSTOMERS.c.store_id,
                       isouter=True)
            .where(CUSTOMERS.c.customer_id.in_(ids))
        )
    }  # fmt: skip
    visits = [_visit_of(c.contact) for c in complaints]
    visit_ids = sorted({v for _, v in visits if v})
    advisors = dict(
        conn.execute(
            select(VISITS.c.visit_id, VISITS.c.advisor).where(VISITS.c.visit_id.in_(visit_ids))
        ).all()
    )
    for c, (vin, visit_id) in zip(complaints, visits, strict=True):
        store, zone = stores.get(c.contact.customer_id, ("", DEFAULT_TIMEZONE))
        row = {
            "contact_id": root_contact(c.contact), "customer_id": c.contact.customer_id,
            "store_id": store, "campaign": c.contact.campaign, "vin": vin,
            "visit_id": visit_id, "advisor": advisors.get(visit_id) if visit_id else None,
            "category": c.category, "words": c.words.strip(), "caller": c.caller,
            "owner": (managers or {}).get(store) or f"{MANAGER_LIST}_{store}",
            "status": TicketStatus.OPEN, "opened_at": now,
        }  # fmt: skip
        # one by one: a single row's count is exact, and a later complaint sees the first
        if insert_ignore(conn, TICKETS, [row], keys=["contact_id"]):
            done.opened += 1
        else:
            done.existing.append(_add_words(conn, row["contact_id"], c, zone, now))
    return done


def _add_words(
    conn: Connection, contact_id: int, c: Complaint, zone: str, now: dt.datetime
) -> tuple[int, str, bool]:
    """Add a complaint's words to the contact's ticket unless it holds them already:
    ``[local day and time, category] words`` on a line of their own. (id, status, added)."""
    ticket = conn.execute(select(TICKETS).where(TICKETS.c.contact_id == contact_id)).one()
    words = c.words.strip()
    if words in ticket.words:
        return ticket.id, ticket.status, False
    local = now.astimezone(ZoneInfo(zone))
    line = f"[{local:%Y-%m-%d %H:%M} {label(c.category)}] {words}"
    conn.execute(
        update(TICKETS)
        .where(TICKETS.c.id == ticket.id)
        .values(words=f"{ticket.words}\n{line}", amended_at=now)
    )
    return ticket.id, ticket.status, True


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketView:
    """A ticket as managers read it: its row, the store's name and time zone, the channel of
    its contact, the customer's name and phone (masked for the chat, in full for the owner
    who calls back), its age and whether it is overdue (not resolved a day after it was
    opened). Times are aware UTC."""

    id: int
    status: str
    overdue: bool
    age: dt.timedelta
    store_id: str
    store_name: str | None
    timezone: str
    channel: str  # a ChannelKind: the contact the complaint was found on
    owner: str
    customer_id: str
    customer_name: str | None
    phone: str  # masked: +86 139****5678
    full_phone: str  # as the customer table holds it, for the owner who calls back
    campaign: str
    vin: str | None
    visit_id: str | None
    advisor: str | None
    category: str
    words: str
    caller: str | None
    opened_at: dt.datetime
    started_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolution: str | None
    amended_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO strings, the age in hours (one decimal)."""
        out = asdict(self)
        out["age_hours"] = round(self.age.total_seconds() / 3600, 1)
        del out["age"]
        for key in ("opened_at", "started_at", "resolved_at", "amended_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _query(where: Iterable[Any]) -> Any:
    t = TICKETS.c
    return (
        select(
            TICKETS,
            CUSTOMERS.c.name.label("customer_name"),
            CUSTOMERS.c.phone,
            STORES.c.name.label("store_name"),
            STORES.c.timezone,
            CONTACTS.c.channel,
        )
        .join_from(TICKETS, CUSTOMERS, CUSTOMERS.c.customer_id == t.customer_id)
        .join(STORES, STORES.c.store_id == t.store_id, isouter=True)
        .join(CONTACTS, CONTACTS.c.id == t.contact_id)
        .where(*where)
        .order_by(t.opened_at, t.id)
    )


def _view(row: Any, now: dt.datetime) -> TicketView:
    opened = _utc(row.opened_at)
    assert opened is not None
    return TicketView(
        id=row.id, status=row.status, overdue=ticket_overdue(row.status, opened, now),
        age=now - opened, store_id=row.store_id, store_name=row.store_name,
        timezone=row.timezone or DEFAULT_TIMEZONE, channel=row.channel, owner=row.owner,
        customer_id=row.customer_id, customer_name=row.customer_name,
        phone=mask_phone(row.phone), full_phone=row.phone or "", campaign=row.campaign,
        vin=row.vin,
        visit_id=row.visit_id, advisor=row.advisor, category=row.category, words=row.words,
        caller=row.caller, opened_at=opened, started_at=_utc(row.started_at),
        resolved_at=_utc(row.resolved_at), resolution=row.resolution,
        amended_at=_utc(row.amended_at),
    )  # fmt: skip


def list_tickets(
    conn: Connection,
    *,
    store_ids: Sequence[str] | None = None,
    statuses: Sequence[TicketStatus] | None = None,
    now: dt.datetime | None = None,
) -> list[TicketView]:
    """The tickets of ``store_ids`` (None: every store) in ``statuses`` (None: all), oldest
    first, each with its age and overdue flag as of ``now`` (default: the clock)."""
    now = now or utcnow()
    t = TICKETS.c
    where = []
    if store_ids is not None:
        where.append(t.store_id.in_(list(store_ids)))
    if statuses is not None:
        where.append(t.status.in_([TicketStatus(s).value for s in statuses]))
    return [_view(row, now) for row in conn.execute(_query(where))]


def get_ticket(conn: Connection, ticket_id: int, *, now: dt.datetime | None = None) -> TicketView:
    """One ticket; raises TicketError when there is no such ticket."""
    row = conn.execute(_query([TICKETS.c.id == ticket_id])).first()
    if row is None:
        raise TicketError(f"no ticket {ticket_id} (see `revisit tickets`)")
    return _view(row, now or utcnow())


# --- moving ------------------------------------------------------------------------------------

#: status → the statuses a ticket may move to from it
MOVES: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED}),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset(),
}


def _move(conn: Connection, ticket_id: int, to: TicketStatus, values: dict[str, Any]) -> None:
    current = TicketStatus(get_ticket(conn, ticket_id).status)
    if to not in MOVES[current]:
        verb = "started" if to is TicketStatus.IN_PROGRESS else "resolved"
        raise TicketError(f"ticket {ticket_id} is {current.value}; it cannot be {verb}")
    done = conn.execute(
        update(TICKETS)
        .where(TICKETS.c.id == ticket_id, TICKETS.c.status == current.value)
        .values(status=to.value, **values)
    )
    if not done.rowcount:  # someone moved it in between
        raise TicketError(f"ticket {ticket_id} changed meanwhile; look at it again")


def start_ticket(conn: Connection, ticket_id: int, *, now: dt.datetime | None = None) -> None:
    """open → in_progress. Raises TicketError for an unknown ticket or another status."""
    _move(conn, ticket_id, TicketStatus.IN_PROGRESS, {"started_at": now or utcnow()})


def resolve_ticket(
    conn: Connection, ticket_id: int, *, note: str, now: dt.datetime | None = None
) -> None:
    """open or in_progress → resolved, with what was done (``note``, required). Raises
    TicketError for an empty note, an unknown ticket or one already resolved."""
    if not note.strip():
        raise TicketError(f"ticket {ticket_id}: a resolution needs a note (what was done)")
    values = {"resolved_at": now or utcnow(), "resolution": note.strip()}
    _move(conn, ticket_id, TicketStatus.RESOLVED, values)


# --- telling the managers -----------------------------------------------------------------------


def _local(ticket: TicketView, at: dt.datetime) -> str:
    return f"{at.astimezone(ZoneInfo(ticket.timezone)):%Y-%m-%d %H:%M}"


def ticket_markdown(
    ticket: TicketView, lang: str = "zh", *, added: bool = False
) -> tuple[str, str]:
    """(title, markdown text) of a new ticket for the staff chat — or, ``added``, of words
    added to it — the phone masked, times in the store's time zone, the store's name beside
    its id, and how the complaint came (a follow-up call, or an SMS contact's outcome)."""
    who = f"{ticket.customer_name or ticket.customer_id} ({ticket.phone})"
    visit = " / ".join(x for x in (ticket.vin, ticket.visit_id) if x) or "—"
    store = " ".join(x for x in (ticket.store_id, ticket.store_name) if x)
    at = _local(ticket, ticket.amended_at if added and ticket.amended_at else ticket.opened_at)
    sms = ticket.channel == ChannelKind.SMS
    if lang == "en":
        title = f"Dissatisfied customer: ticket #{ticket.id}" + (", more words" if added else "")
        how = (
            f"SMS contact: {ticket.campaign}, logged by" if sms else f"Call: {ticket.campaign}, by"
        )
        lines = [f"### {title}", f"> Store: {store} · owner: **{ticket.owner}**",
                 f"- Customer: {who}", f"- Visit: {visit} (advisor {ticket.advisor or '—'})",
                 f"- About: **{label(ticket.category, 'en')}**",
                 f"- In their words: {ticket.words}",
                 f"- {how} {ticket.caller or '—'}, {at}"]  # fmt: skip
    else:
        title = f"不满意客户问题单 #{ticket.id}" + (" 补充" if added else "")
        how = f"短信:{ticket.campaign},登记人" if sms else f"回访:{ticket.campaign},"
        lines = [f"### {title}", f"> 门店:{store} · 负责人:**{ticket.owner}**",
                 f"- 客户:{who}", f"- 车辆/工单:{visit}(服务顾问 {ticket.advisor or '—'})",
                 f"- 类别:**{label(ticket.category, 'zh')}**", f"- 客户原话:{ticket.words}",
                 f"- {how}{' ' if sms else ''}{ticket.caller or '—'},{at}"]  # fmt: skip
    return title, "\n".join(lines)


def notify_new_tickets(engine: Engine, *, url: str, client: httpx.Client, lang: str = "zh") -> int:
    """Tell the staff webhook of every ticket it has not been told of yet, and of every
    addition of words made since it was told, one message each, marking each as told once
    the webhook took it: a ticket (and an addition) is announced once, and one the webhook
    refused is announced by the next call. Returns how many were sent. Raises
    :class:`~revisit.delivery.notify.WebhookError` when the webhook fails."""
    t = TICKETS.c
    waiting = or_(t.notified_at.is_(None), t.amended_at > func.coalesce(t.notified_at, t.opened_at))
    with engine.connect() as conn:
        rows = list(conn.execute(_query([waiting])))
    for row in rows:
        ticket = _view(row, utcnow())
        title, text = ticket_markdown(ticket, lang, added=row.notified_at is not None)
        post_markdown(url, title=title, text=text, client=client)
        with engine.begin() as conn:
            conn.execute(update(TICKETS).where(t.id == ticket.id).values(notified_at=utcnow()))
    return len(rows)
