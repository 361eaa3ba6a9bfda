"""Counters of the data a day's plan is computed from (``data_versions``).

Every writer of such data raises its counter in the same transaction as its write; a kept
plan (:mod:`revisit.campaigns.dayplan`) remembers the counters it was made with and is
planned again when one has moved. The kinds:

- ``dms``: an import (customers, vehicles, visits, policies, upsell items, stores);
- ``opt_outs``: the do-not-contact list (a reply, the provider, staff, a list import,
  an opt-in lifting one);
- ``phones``: a phone found dead (``customers.phone_invalid``, by the provider or a caller).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select, update

from revisit.db.engine import Db, connection_of, insert_ignore
from revisit.db.tables import DATA_VERSIONS

DMS: Final = "dms"
OPT_OUTS: Final = "opt_outs"
PHONES: Final = "phones"
KINDS: Final = (DMS, OPT_OUTS, PHONES)


def bump(db: Db, *names: str) -> None:
    """Raise the counters ``names`` by one (the caller commits, with the write it counts).
    Raises ValueError for a name not in :data:`KINDS`."""
    conn = connection_of(db)
    for name in names:
        if name not in KINDS:
            raise ValueError(f"unknown data version {name!r}; known: {', '.join(KINDS)}")
        insert_ignore(conn, DATA_VERSIONS, [{"name": name, "version": 0}], keys=["name"])
        v = DATA_VERSIONS.c
        conn.execute(update(DATA_VERSIONS).where(v.name == name).values(version=v.version + 1))


def versions(db: Db) -> dict[str, int]:
    """Every counter: name → version (a kind never written is absent: version 0)."""
    rows = connection_of(db).execute(select(DATA_VERSIONS.c.name, DATA_VERSIONS.c.version))
    return {name: int(version) for name, version in rows}
