"""The do-not-contact list (``opt_outs``): the one place that adds customers to it and takes
them off it. Replies (``STOP``, ``退订``), the staff outcome ``do_not_contact``, opt-out list
imports and the provider's own refusals all come here.

An opt-out takes effect at once: the customer's contacts that nobody has claimed yet are
excluded (``do_not_contact``) in the same transaction, so a run under way does not send them,
and every later run's rules exclude the customer. A customer is on the list once; the first
source is kept, except that a reply opt-out is replaced by a stronger one (staff, import,
provider), so ``START`` by SMS undoes only what an SMS did. Every change is written to the
audit table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from revisit.campaigns.statuses import ExclusionReason, OptOutSource
from revisit.db import versions
from revisit.db.tables import AUDIT, OPT_OUTS, utcnow
from revisit.db.versions import bump
from revisit.delivery.outbox import exclude_pending


@dataclass
class OptOutChange:
    """What :func:`add_opt_out` did: customers newly on the list, customers whose reply
    opt-out became a stronger one, customers already on it, and pending contacts excluded."""

    added: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    excluded_contacts: int = 0


def opt_out_sources(conn: Connection, customer_ids: Sequence[str]) -> dict[str, str]:
    """customer id → the source of their opt-out, for those of ``customer_ids`` on the list."""
    if not customer_ids:
        return {}
    rows = conn.execute(
        select(OPT_OUTS.c.customer_id, OPT_OUTS.c.source).where(
            OPT_OUTS.c.customer_id.in_(sorted(set(customer_ids)))
        )
    )
    return {str(cid): str(src) for cid, src in rows}


def add_opt_out(
    conn: Connection,
    *,
    customer_ids: Sequence[str],
    source: OptOutSource,
    reason: str | None = None,
    reasons: Mapping[str, str] | None = None,
    actor: str = "system",
    now: dt.datetime | None = None,
) -> OptOutChange:
    """Put ``customer_ids`` (existing customers) on the do-not-contact list, in the caller's
    transaction, and exclude their unclaimed contacts (see the module docstring).

    ``reason`` says where it came from for staff ("reply 'TD'", "optouts.csv:4", a caller's
    note), or ``reasons`` per customer id (a list import: its file and line); ``actor`` who
    did it (a staff name, or "system"). Idempotent; a few statements whatever the number of
    customers."""
    now = now or utcnow()
    ids = sorted(set(customer_ids))
    change = OptOutChange()
    if not ids:
        return change
    why = {cid: (reasons or {}).get(cid, reason) for cid in ids}
    before = opt_out_sources(conn, ids)
    change.added = [cid for cid in ids if cid not in before]
    change.already = [cid for cid in ids if cid in before]
    if change.added:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(OPT_OUTS).on_conflict_do_nothing(index_elements=["customer_id"]),
            [
                {"customer_id": cid, "source": source, "reason": why[cid], "created_at": now}
                for cid in change.added
            ],
        )
    if source is not OptOutSource.REPLY:
        change.upgraded = [cid for cid in change.already if before[cid] == OptOutSource.REPLY]
        if change.upgraded:
            conn.execute(
                update(OPT_OUTS)
                .where(
                    OPT_OUTS.c.customer_id == bindparam("b_id"),
                    OPT_OUTS.c.source == OptOutSource.REPLY,
                )
                .values(source=source, reason=bindparam("b_reason")),
                [{"b_id": cid, "b_reason": why[cid]} for cid in change.upgraded],
            )
    if change.added:
        bump(conn, versions.OPT_OUTS)
    change.excluded_contacts = exclude_pending(
        conn, customer_ids=ids, reason=ExclusionReason.DO_NOT_CONTACT
    )
    _audit(conn, "opt_out", [*change.added, *change.upgraded], source, why, actor, now)
    return change


def remove_opt_out(
    conn: Connection,
    *,
    customer_ids: Sequence[str],
    only_source: OptOutSource | None = None,
    reason: str | None = None,
    actor: str = "system",
    now: dt.datetime | None = None,
) -> list[str]:
    """Take ``customer_ids`` off the do-not-contact list (only entries from ``only_source``
    when given: a ``START`` reply lifts only a reply opt-out). Returns the ids removed."""
    now = now or utcnow()
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    where: Any = OPT_OUTS.c.customer_id.in_(ids)
    if only_source is not None:
        where = where & (OPT_OUTS.c.source == only_source)
    removed = sorted(
        str(cid) for cid in conn.execute(select(OPT_OUTS.c.customer_id).where(where)).scalars()
    )
    if removed:
        conn.execute(delete(OPT_OUTS).where(OPT_OUTS.c.customer_id.in_(removed)))
        bump(conn, versions.OPT_OUTS)
        _audit(conn, "opt_in", removed, only_source, dict.fromkeys(removed, reason), actor, now)
    return removed


def _audit(
    conn: Connection,
    action: str,
    customer_ids: Sequence[str],
    source: str | None,
    reasons: Mapping[str, str | None],
    actor: str,
    now: dt.datetime,
) -> None:
    if not customer_ids:
        return
    conn.execute(
        insert(AUDIT),
        [
            {
                "at": now,
                "actor": actor,
                "action": action,
                "entity": "customer",
                "entity_id": cid,
                "detail": {"source": source, "reason": reasons.get(cid)},
            }
            for cid in customer_ids
        ],
    )
