"""Every table of the product, with the indexes its queries need, and its Core handle.

The SQLModel classes are the schema (created and upgraded by Alembic, ``revisit/db/migrations``);
the upper-case handles below them (``CONTACTS``, ``VISITS``, …) are the one way to get a
table for Core queries: ``from revisit.db.tables import CONTACTS``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from revisit.settings import DEFAULT_STORE_ID, DEFAULT_TIMEZONE


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC (what every timestamp column stores)."""
    return dt.datetime.now(dt.UTC)


def _ts(**kw: Any) -> Any:
    return Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kw)
    )


def _money() -> Any:
    return Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))


# --- the dealer's data, as imported from the DMS -------------------------------------------


class Store(SQLModel, table=True):
    """A store (门店) of the dealer group: its id as the DMS writes it, its IANA ``timezone``
    (the send window and "today" are local to it), and what SMS and call sheets print."""

    __tablename__ = "stores"
    store_id: str = Field(primary_key=True)
    name: str
    timezone: str = DEFAULT_TIMEZONE
    phone: str | None = None
    address: str | None = None
    sms_sender: str | None = None
    # The store's customer-service callers (客服 / 招揽专员), in turn order: "王芳;李娜".
    callers: str | None = None


class Customer(SQLModel, table=True):
    """A customer (客户) as imported: one phone in E.164 (``+8613912345678``) or None,
    consent to SMS, the language of their texts (``zh``/``en``) and their store."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_store", "store_id"),
        Index("ix_customers_phone", "phone"),
        Index("ix_customers_birthday_md", "birthday_md"),
        {"sqlite_with_rowid": False},  # clustered by id (migration 0004)
    )
    customer_id: str = Field(primary_key=True)
    name: str
    phone: str | None = None  # E.164, or None when the export's value was not a usable phone
    phone_raw: str | None = None  # what the export said, for staff to read
    phone_type: str | None = None  # mobile | landline
    phone_invalid: bool = False  # set when the provider or a caller finds the number dead
    birthday: dt.date | None = None
    birthday_md: str | None = None  # "MM-DD", for the birthday cohort's index
    region: str | None = None
    store_id: str = Field(default=DEFAULT_STORE_ID, foreign_key="stores.store_id")
    consent_sms: bool = True
    language: str = "zh"


class Vehicle(SQLModel, table=True):
    """A vehicle by VIN (17 characters), its owner, its purchase (delivery) date and whether
    it is still the customer's (``status``)."""

    __tablename__ = "vehicles"
    __table_args__ = (
        Index("ix_vehicles_customer", "customer_id"),
        Index("ix_vehicles_purchase_date", "purchase_date"),
        {"sqlite_with_rowid": False},  # clustered by id (migration 0004)
    )
    vin: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.customer_id")
    plate: str | None = None
    model: str | None = None
    purchase_date: dt.date
    status: str = "active"  # active | sold | scrapped


class Visit(SQLModel, table=True):
    """A repair order (工单): the vehicle's visit on ``date`` with its odometer reading in
    kilometres (``mileage_km``), the type of work and the amount in yuan (CNY, 2 decimals)."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_vin_date", "vin", "date"),
        Index("ix_visits_date", "date"),
    )
    visit_id: str = Field(primary_key=True)
    vin: str = Field(foreign_key="vehicles.vin")
    date: dt.date
    mileage_km: int | None = None
    type: str  # first_service | maintenance | repair | bodywork | warranty | other
    amount: float | None = _money()
    advisor: str | None = None
    team: str | None = None


class Policy(SQLModel, table=True):
    """An insurance policy of a vehicle, expiring on ``expiry_date`` (the renewal cohort's
    date); ``renewed`` once the store has renewed it."""

    __tablename__ = "policies"
    __table_args__ = (
        Index("ix_policies_expiry", "expiry_date"),
        Index("ix_policies_vin", "vin"),
    )
    policy_id: str = Field(primary_key=True)
    vin: str = Field(foreign_key="vehicles.vin")
    expiry_date: dt.date
    insurer: str | None = None
    renewed: bool = False


class UpsellItem(SQLModel, table=True):
    """An upsell item (增修项目) proposed on a visit, graded A/B/C (A most urgent), accepted
    or declined; ``amount`` in yuan and the date it falls ``due``."""

    __tablename__ = "upsell_items"
    __table_args__ = (
        Index("ix_upsell_vin", "vin"),
        Index("ix_upsell_visit", "visit_id"),
        Index("ix_upsell_status_grade", "status", "grade"),
    )
    item_id: str = Field(primary_key=True)
    visit_id: str = Field(foreign_key="visits.visit_id")
    vin: str = Field(foreign_key="vehicles.vin")
    item: str
    grade: str  # A | B | C
    status: str  # accepted | declined
    amount: float | None = _money()
    due_date: dt.date | None = None


# --- derived from the dealer's data ----------------------------------------------------------


class VehicleVisitSummary(SQLModel, table=True):
    """One row per vehicle: what the cohorts ask of its visit history, rebuilt after every
    import (:mod:`revisit.dms.visit_summary`) and read only while it matches the data."""

    __tablename__ = "vehicle_visit_summary"
    __table_args__ = ({"sqlite_with_rowid": False},)  # rows read by vin, clustered by vin
    vin: str = Field(primary_key=True)
    recency_date: dt.date  # the latest visit of any type, or the purchase date if none
    last_visit_date: dt.date | None = None
    last_service_date: dt.date | None = None  # the latest first_service or maintenance visit
    last_service_km: int | None = None  # the mileage recorded on that day, if any
    first_km_date: dt.date | None = None  # the first visit with a mileage, and the mileage
    first_km: int | None = None
    last_km_date: dt.date | None = None  # the last visit with a mileage, and the mileage
    last_km: int | None = None


class SummaryState(SQLModel, table=True):
    """What a derived table was built from: it is current while the data still hold as many
    vehicles and visits, the latest visit on the same day."""

    __tablename__ = "summary_state"
    name: str = Field(primary_key=True)
    vehicles: int
    visits: int
    latest_visit: dt.date | None = None
    built_at: dt.datetime = _ts()


# --- campaigns and their runs ----------------------------------------------------------------


class Campaign(SQLModel, table=True):
    """The last seen definition of a campaign file, so runs and reports can name it."""

    __tablename__ = "campaigns"
    name: str = Field(primary_key=True)
    cohort: str
    channel: str
    priority: int = 0
    definition: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_at: dt.datetime = _ts()


class CampaignRun(SQLModel, table=True):
    """One run of a campaign for an ``as_of`` date: its status and ``counts`` (JSON: the
    plan's numbers — targeted, excluded/suppressed by reason, holdout, to_contact — then
    ``outbox``, contacts by status, and ``dispatch``, what sending did). Written by
    :mod:`revisit.delivery.outbox` only."""

    __tablename__ = "campaign_runs"
    __table_args__ = (Index("ix_runs_campaign_as_of", "campaign", "as_of"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(foreign_key="campaigns.name")
    as_of: dt.date
    # a RunStatus (revisit.campaigns.statuses, a layer above; a test ties the default to it)
    status: str = "planned"
    dry_run: bool = False
    started_at: dt.datetime = _ts()
    finished_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Who paused the run (revisit campaign pause, the web app): nothing is claimed until a
    # resume clears it.
    paused_by: str | None = None


class Contact(SQLModel, table=True):
    """The outbox: one row per customer per campaign and as_of date, written by
    :mod:`revisit.delivery.outbox` only.

    A contact carries every due vehicle of its customer (``vins``) and what it is about
    (``details``: one entry per cohort member, ``CohortMember.details`` — the vehicle, its due
    date and why, ``due_by``, e.g. ``mileage``, and the cohort's own fields), the rendered SMS
    ``body`` (None for calls and for customers not contacted), its ``status`` and, when not
    contacted, the ``reason``: the enums of :mod:`revisit.campaigns.statuses`. Timestamps
    are aware, in UTC."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("campaign", "as_of", "customer_id", name="uq_contacts_campaign_day"),
        Index("ix_contacts_run_status", "run_id", "status"),
        Index("ix_contacts_customer_created", "customer_id", "created_at"),
        Index("ix_contacts_campaign_event", "campaign", "customer_id", "event_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="campaign_runs.id")
    campaign: str
    as_of: dt.date
    customer_id: str = Field(foreign_key="customers.customer_id")
    vins: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    channel: str  # a ChannelKind
    priority: int = 0
    status: str = "pending"  # a ContactStatus (a test ties the default to it)
    reason: str | None = None  # an ExclusionReason or SuppressionReason
    details: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # what the contact is about: its members' event keys (revisit.cohorts.events.joined_key)
    event_key: str | None = None
    # the last day (store's time zone) it is worth sending; past it: expired (None: no limit)
    last_useful_day: dt.date | None = None
    phone: str | None = None
    body: str | None = None
    attempts: int = 0
    error_code: str | None = None
    error: str | None = None
    created_at: dt.datetime = _ts()
    claimed_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    sent_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # The dispatch worker holding the row, and until when nobody else may touch it
    # (an in-flight send, or an unknown outcome settling before reconciliation).
    claimed_by: str | None = None
    lease_until: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # A call contact: who it was handed to; a callback: the contact it follows up.
    caller: str | None = None
    callback_of: int | None = Field(default=None, foreign_key="contacts.id")


class Message(SQLModel, table=True):
    """A message as the provider knows it (``provider_sid``, e.g. Twilio's ``SM…``), with
    its delivery status and its length in SMS ``segments``."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_contact", "contact_id"),
        Index("ix_messages_status_created", "status", "created_at"),  # status polling
    )
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id")
    provider: str
    provider_sid: str | None = Field(default=None, unique=True)
    to_phone: str
    body: str
    segments: int = 1
    status: str = "queued"  # a MessageStatus: only ever moves forward (delivery/callbacks.py)
    error_code: str | None = None  # the provider's error (at send, or in a status callback)
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


class PendingCallback(SQLModel, table=True):
    """A provider status callback for a message not recorded yet (the provider can call back
    before the send's own write commits): applied, then deleted, when the message is."""

    __tablename__ = "pending_callbacks"
    __table_args__ = (Index("ix_pending_callbacks_sid", "provider_sid"),)
    id: int | None = Field(default=None, primary_key=True)
    provider_sid: str
    status: str
    error_code: str | None = None
    received_at: dt.datetime = _ts()


class Outcome(SQLModel, table=True):
    """What came of a contact: a call result, a reply, a return to the shop."""

    __tablename__ = "outcomes"
    __table_args__ = (
        Index("ix_outcomes_contact", "contact_id"),
        Index("ix_outcomes_customer", "customer_id"),
        # At most one return per contact (the attribution replaces it).
        Index(
            "uq_outcomes_return",
            "contact_id",
            unique=True,
            sqlite_where=text("kind = 'return'"),
            postgresql_where=text("kind = 'return'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    customer_id: str = Field(foreign_key="customers.customer_id")
    vin: str | None = None
    kind: str  # call | reply | return
    code: str  # booked | will_come | callback | not_reached | declined | returned | ...
    detail: str | None = None  # no_answer / wrong_number / busy, or the decline reason
    callback_date: dt.date | None = None
    visit_id: str | None = None
    amount: float | None = _money()
    staff: str | None = None
    note: str | None = None
    created_at: dt.datetime = _ts()


class Ticket(SQLModel, table=True):
    """A dissatisfied-customer ticket (不满意客户问题跟踪单): opened by a ``dissatisfied`` call
    outcome, one per contact, for the store's service manager (``owner``). Who
    (``customer_id``, ``store_id``), which visit and advisor, what (``category``, the
    customer's ``words``), who logged it (``caller``), when it was opened, where it stands
    (a TicketStatus) and, once resolved, what was done (``resolution``). ``notified_at``:
    when the staff webhook was last told; ``amended_at``: when later words were added to
    ``words`` (told again when after ``notified_at``). Written by
    :mod:`revisit.outcomes.tickets` only."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("contact_id", name="uq_tickets_contact"),
        Index("ix_tickets_store_status", "store_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id")
    customer_id: str = Field(foreign_key="customers.customer_id")
    store_id: str
    campaign: str
    vin: str | None = None
    visit_id: str | None = None
    advisor: str | None = None
    category: str  # a Dissatisfaction
    words: str
    caller: str | None = None
    owner: str
    status: str = "open"  # a TicketStatus (a test ties the default to it)
    opened_at: dt.datetime = _ts()
    started_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    resolved_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    resolution: str | None = None
    notified_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    amended_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class OptOut(SQLModel, table=True):
    """The do-not-contact list."""

    __tablename__ = "opt_outs"
    customer_id: str = Field(primary_key=True, foreign_key="customers.customer_id")
    source: str  # an OptOutSource
    reason: str | None = None
    created_at: dt.datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """Who did what to which entity, when (UTC), with a JSON ``detail``."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts()
    actor: str = "system"
    action: str
    entity: str | None = None
    entity_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class User(SQLModel, table=True):
    """A user of the web app: a unique ``name`` (a caller's name as the call lists give it),
    a role (:class:`revisit.campaigns.statuses.Role`), the stores they see (``stores``: a
    JSON list of store ids; None for an admin: every store), the language of their pages,
    an argon2 password hash (``pwdlib``), whether the password is a one-time password to
    change at the next sign-in, and whether the user may sign in (``active``).
    ``password_changed_at`` ends every session signed in before it (a reset, a revoke)."""

    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str
    stores: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    language: str | None = None  # zh | en; None: the browser's Accept-Language
    password_hash: str
    must_change_password: bool = True
    active: bool = True
    created_at: dt.datetime = _ts()
    password_changed_at: dt.datetime = _ts()


class SendRate(SQLModel, table=True):
    """The send rate shared by every dispatcher of one provider account (PostgreSQL): the
    next free start slot of ``key`` (``twilio:<account sid>``) in seconds since the epoch on
    the database's clock. See :mod:`revisit.delivery.sharedrate`."""

    __tablename__ = "send_rate"
    key: str = Field(primary_key=True)
    next_at: float


# --- the day's plan, computed once (revisit.campaigns.dayplan) ---------------------------------


class DataVersion(SQLModel, table=True):
    """A counter per kind of data a plan reads (``dms`` imports, ``opt_outs``, ``phones``
    found dead), raised by every writer of that kind (:mod:`revisit.db.versions`)."""

    __tablename__ = "data_versions"
    name: str = Field(primary_key=True)
    version: int = 0


class DayPlan(SQLModel, table=True):
    """That the plan of ``campaign`` for ``as_of`` is kept for ``store_id`` (one row per
    store, also when the store has nobody in it), with the ``fingerprint`` of what it was
    computed from and the store's sold/scrapped vehicles left out of contacts (JSON)."""

    __tablename__ = "day_plans"
    as_of: dt.date = Field(primary_key=True)
    store_id: str = Field(primary_key=True)
    campaign: str = Field(primary_key=True)
    fingerprint: str
    planned_at: dt.datetime = _ts()
    dropped_vehicles: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))


class DayCohortSize(SQLModel, table=True):
    """A cohort's members in a store on ``as_of`` (after the always-exclusions), kept with
    the day's plans and forgotten with them (the overview's first table)."""

    __tablename__ = "day_cohort_sizes"
    as_of: dt.date = Field(primary_key=True)
    store_id: str = Field(primary_key=True)
    cohort: str = Field(primary_key=True)
    members: int
    fingerprint: str


class DayPlanRow(SQLModel, table=True):
    """One customer of a kept plan: the decision, its reason, and what a contact keeps
    (``vins``, ``details`` — one entry per member, as ``contacts.details`` — ``event_key``,
    the phone and language). ``vins`` and ``details`` are JSON text, written and read by
    :mod:`revisit.campaigns.kept` alone (hundreds of thousands of rows a day: the driver
    takes them as they are)."""

    __tablename__ = "day_plan_rows"
    __table_args__ = (
        Index("ix_day_plan_rows_counts", "as_of", "campaign", "status", "reason", "store_id"),
    )
    as_of: dt.date = Field(primary_key=True)
    campaign: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True)
    store_id: str
    status: str  # a PlanDecision
    reason: str | None = None
    cohort: str
    phone: str | None = None
    language: str = "zh"
    vins: str = "[]"
    details: str = "[]"
    event_key: str | None = None
    last_useful_day: dt.date | None = None


# --- Core handles: the one way to get a table ----------------------------------------------


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]


STORES = table_of(Store)
CUSTOMERS = table_of(Customer)
VEHICLES = table_of(Vehicle)
VISITS = table_of(Visit)
POLICIES = table_of(Policy)
UPSELL = table_of(UpsellItem)
SUMMARY = table_of(VehicleVisitSummary)
SUMMARY_STATE = table_of(SummaryState)
CAMPAIGNS = table_of(Campaign)
RUNS = table_of(CampaignRun)
CONTACTS = table_of(Contact)
MESSAGES = table_of(Message)
PENDING_CALLBACKS = table_of(PendingCallback)
OUTCOMES = table_of(Outcome)
OPT_OUTS = table_of(OptOut)
TICKETS = table_of(Ticket)
AUDIT = table_of(AuditEntry)
SEND_RATE = table_of(SendRate)
DATA_VERSIONS = table_of(DataVersion)
DAY_PLANS = table_of(DayPlan)
DAY_COHORT_SIZES = table_of(DayCohortSize)
DAY_PLAN_ROWS = table_of(DayPlanRow)
USERS = table_of(User)
