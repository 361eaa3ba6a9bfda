"""The database: tables, engine, sessions and schema migrations.

Every table of the product lives here, with the indexes the cohort, dispatch and report
queries need declared beside it. The schema itself is created and upgraded by Alembic
(``revisit/migrations``); :func:`open_engine` runs the upgrade on first use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, UniqueConstraint, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, create_engine

from revisit.settings import DEFAULT_STORE_ID, DEFAULT_TIMEZONE

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")
CACHE_KIB = 65536  # SQLite page cache per connection
MMAP_BYTES = 2 << 30  # SQLite memory-mapped I/O (address space, not resident memory)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ts(**kw: Any) -> Any:
    return Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kw)
    )


def _money() -> Any:
    return Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))


# --- the dealer's data, as imported from the DMS -------------------------------------------


class Store(SQLModel, table=True):
    __tablename__ = "stores"
    store_id: str = Field(primary_key=True)
    name: str
    timezone: str = DEFAULT_TIMEZONE
    phone: str | None = None
    address: str | None = None
    sms_sender: str | None = None


class Customer(SQLModel, table=True):
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
    """A repair order (工单)."""

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
    """An upsell item (增修项目) proposed on a visit, graded A/B/C."""

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
    import (:mod:`revisit.visit_summary`) and read only while it matches the data."""

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
    __tablename__ = "campaign_runs"
    __table_args__ = (Index("ix_runs_campaign_as_of", "campaign", "as_of"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(foreign_key="campaigns.name")
    as_of: dt.date
    status: str = "planned"  # planned | sending | paused | deferred | done | failed
    dry_run: bool = False
    started_at: dt.datetime = _ts()
    finished_at: dt.datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Contact(SQLModel, table=True):
    """The outbox: one row per customer per campaign and as_of date."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("campaign", "as_of", "customer_id", name="uq_contacts_campaign_day"),
        Index("ix_contacts_run_status", "run_id", "status"),
        Index("ix_contacts_customer_created", "customer_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="campaign_runs.id")
    campaign: str
    as_of: dt.date
    customer_id: str = Field(foreign_key="customers.customer_id")
    vins: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    channel: str  # sms | call | console
    priority: int = 0
    # pending | sending | sent | failed | unknown | holdout | suppressed | excluded | deferred
    status: str = "pending"
    reason: str | None = None
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


class Message(SQLModel, table=True):
    """A message as the provider knows it, with its delivery status."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_contact", "contact_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id")
    provider: str
    provider_sid: str | None = Field(default=None, unique=True)
    to_phone: str
    body: str
    segments: int = 1
    status: str = "queued"  # queued | sent | delivered | undelivered | failed | received
    error_code: str | None = None
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


class Outcome(SQLModel, table=True):
    """What came of a contact: a call result, a reply, a return to the shop."""

    __tablename__ = "outcomes"
    __table_args__ = (
        Index("ix_outcomes_contact", "contact_id"),
        Index("ix_outcomes_customer", "customer_id"),
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


class OptOut(SQLModel, table=True):
    """The do-not-contact list."""

    __tablename__ = "opt_outs"
    customer_id: str = Field(primary_key=True, foreign_key="customers.customer_id")
    source: str  # reply | provider | staff | import
    reason: str | None = None
    created_at: dt.datetime = _ts()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts()
    actor: str = "system"
    action: str
    entity: str | None = None
    entity_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


# --- engine, schema, sessions -----------------------------------------------------------------


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: IN lists and executemany batches kept bounded."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # reads of a large database skip a copy
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` without touching the schema (see :func:`open_engine`)."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def migrating(conn: Connection) -> Iterator[None]:
    """A transaction for schema changes. On SQLite, foreign keys are off meanwhile (a table
    rebuild drops a parent table) and checked afterwards; the pragma must be set outside
    a transaction."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
    try:
        with conn.begin():
            yield
            if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise RuntimeError("a schema migration left rows whose references are broken")
    finally:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision and make sure the default store exists."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            conn.rollback()
            with conn.begin():  # the usual case: nothing to migrate
                restore_indexes(conn)
        else:
            conn.rollback()
            with migrating(conn):
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                restore_indexes(conn)
                _summarise_if_stale(conn)
    with Session(engine) as session:
        if session.get(Store, DEFAULT_STORE_ID) is None:
            session.add(Store(store_id=DEFAULT_STORE_ID, name="Default store"))
            session.commit()


def _summarise_if_stale(conn: Connection) -> None:
    """After a migration, build the per-vehicle visit summary if the data have none yet (a
    database from before it existed), rather than wait for the next import."""
    from revisit.visit_summary import refresh_visit_summary, summary_stale

    if summary_stale(conn):
        refresh_visit_summary(conn)


def secondary_indexes(table: str) -> list[Index]:
    """The declared indexes of ``table`` other than its primary key."""
    return sorted(SQLModel.metadata.tables[table].indexes, key=lambda i: str(i.name))


def restore_indexes(conn: Connection) -> None:
    """Create any declared index that is missing (a bulk import drops and rebuilds them; one
    killed half-way leaves them to be rebuilt here)."""
    present = {
        (table, ix["name"])
        for table in SQLModel.metadata.tables
        for ix in inspect(conn).get_indexes(table)
    }
    for table in SQLModel.metadata.tables:
        for index in secondary_indexes(table):
            if (table, index.name) not in present:
                index.create(bind=conn)


def open_engine(url: str) -> Engine:
    """An engine whose schema is at the newest revision (migrated on first use)."""
    engine = create_db_engine(url)
    upgrade_schema(engine)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


Db = OrmSession | Connection  # what the domain queries run on


def dialect_of(db: Db) -> str:
    bind = db.get_bind() if isinstance(db, OrmSession) else db
    return bind.dialect.name


def connection_of(db: Db) -> Connection:
    """The connection a query runs on (a session's, in its transaction): Core rows, without
    the ORM layer."""
    return db.connection() if isinstance(db, OrmSession) else db


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends cleanly and rolls back otherwise."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
