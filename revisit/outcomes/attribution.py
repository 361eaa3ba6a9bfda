"""Return attribution: did a contacted customer come back to the shop?

The rule (SPEC, Outcomes; README, Reports): a contact is *returned* when any vehicle of its
customer has a visit dated within ``[contact day, contact day + attribution_days]`` of the
contact's campaign (default 30). The contact day is the day of the run (``as_of``: SMS go
out that day inside the send window, call lists are handed out that day; a callback's day is
its callback date). The first visit of the window is linked (earliest date, then visit id)
and the revenue is the sum of the window's visit amounts.

Every contact planned to be made is attributed — sent, listed, and also failed or still
pending ones, which the lift needs (intention to treat) — and so is every holdout member,
from the same day, so the holdout's return rate is measured the same way. Excluded and
suppressed customers are not. Each contact is attributed on its own: a customer reached by
two campaigns returns for both.

One set-based pass replaces every return outcome in one transaction, so it is idempotent and
a late import of an earlier visit updates the link.
"""

from __future__ import annotations

from sqlalchemy import Integer, and_, func, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from revisit.campaigns.statuses import ContactStatus
from revisit.dates import sql_epoch_days
from revisit.db.tables import CAMPAIGNS, CONTACTS, VEHICLES, VISITS
from revisit.outcomes.records import replace_returns

DEFAULT_ATTRIBUTION_DAYS = 30

#: Contact statuses that are attributed: everyone assigned to be contacted, and the holdout.
ATTRIBUTED_STATUSES = tuple(
    s for s in ContactStatus if s not in (ContactStatus.EXCLUDED, ContactStatus.SUPPRESSED)
)


def attribution_days_expr() -> object:
    """The campaign's ``attribution_days`` read from its recorded definition (SQL)."""
    days = CAMPAIGNS.c.definition["attribution_days"].as_integer()
    return func.coalesce(days, literal(DEFAULT_ATTRIBUTION_DAYS, Integer))


def returns_query(dialect: str) -> Select[tuple[object, ...]]:
    """One row per returned contact: contact_id, customer_id, vin, visit_id, amount (the
    window's revenue), ready to insert as return outcomes."""
    c, v, vi, k = CONTACTS.c, VEHICLES.c, VISITS.c, CAMPAIGNS.c
    days = attribution_days_expr()
    offset = sql_epoch_days(vi.date, dialect) - sql_epoch_days(c.as_of, dialect)
    window = (
        select(
            c.id.label("contact_id"),
            c.customer_id.label("customer_id"),
            vi.vin.label("vin"),
            vi.visit_id.label("visit_id"),
            func.row_number()
            .over(partition_by=c.id, order_by=(vi.date, vi.visit_id))
            .label("rank"),
            func.sum(func.coalesce(vi.amount, 0)).over(partition_by=c.id).label("revenue"),
        )
        .select_from(CONTACTS)
        .join(CAMPAIGNS, k.name == c.campaign)
        .join(VEHICLES, v.customer_id == c.customer_id)
        .join(VISITS, and_(vi.vin == v.vin, vi.date >= c.as_of))
        .where(c.status.in_([str(s) for s in ATTRIBUTED_STATUSES]), offset <= days)
        .subquery("window")
    )
    w = window.c
    return select(w.contact_id, w.customer_id, w.vin, w.visit_id, w.revenue.label("amount")).where(
        w.rank == 1
    )


def attribute_returns_on(conn: Connection) -> int:
    """Recompute every return outcome inside ``conn``'s transaction; the number of returned
    contacts (holdout members included)."""
    return replace_returns(conn, returns_query(conn.dialect.name))


def attribute_returns(engine: Engine) -> int:
    """Recompute every contact's return (see the module doc) in one transaction; runs after
    every import and by ``revisit attribute``. Returns the number of returned contacts."""
    with engine.begin() as conn:
        return attribute_returns_on(conn)
