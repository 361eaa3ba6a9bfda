"""The audit trail: one ``audit`` row per launch, pause and resume, logged outcome, sign-in
and user change — who (``actor``), when (UTC), what (``action``, an
:class:`~revisit.campaigns.statuses.AuditAction`), on which entity, and a JSON ``detail``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from revisit.campaigns.statuses import AuditAction
from revisit.db.tables import AUDIT, utcnow


def audit(
    conn: Connection,
    *,
    actor: str,
    action: AuditAction,
    entity: str | None = None,
    entity_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Append one audit row in ``conn``'s transaction (so it stands or falls with the change
    it records). ``detail`` must be JSON-serialisable and never holds a password or a whole
    phone number."""
    conn.execute(
        insert(AUDIT).values(
            at=now or utcnow(), actor=actor, action=action.value, entity=entity,
            entity_id=None if entity_id is None else str(entity_id), detail=dict(detail or {}),
        )
    )  # fmt: skip


def audit_rows(conn: Connection, *, action: AuditAction | None = None) -> list[dict[str, Any]]:
    """The audit rows (oldest first), of one action when given: for tests and the CLI."""
    query = select(AUDIT).order_by(AUDIT.c.id)
    if action is not None:
        query = query.where(AUDIT.c.action == action.value)
    return [dict(row._mapping) for row in conn.execute(query)]
