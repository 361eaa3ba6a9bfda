"""The send window where the provider is called: the dispatcher asks :class:`SendGate`
just before every ``channel.send``, on every path (``campaign run``/``daily``, ``revisit dev
dispatch-run``, the worker, the flows).

The window is the run's campaign's (SPEC: default 09:00–20:00), in the time zone of every
store whose customers wait in the run; it is checked against the dispatcher's clock — the
real one. Only a channel that reaches no phone (the console) may check it against another
clock, such as the pinned ``--now`` of a replay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import WAITING_STATUSES
from revisit.campaigns.window import SendWindow, within_send_window
from revisit.db.tables import CAMPAIGNS, CONTACTS, CUSTOMERS, RUNS, STORES
from revisit.errors import ConfigError
from revisit.settings import DEFAULT_TIMEZONE


@dataclass(frozen=True)
class SendGate:
    """May a message go out now? ``window`` in every one of ``zones`` (IANA names), at the
    time ``clock`` gives (aware)."""

    window: SendWindow
    zones: frozenset[str]
    clock: Callable[[], dt.datetime]
    default_zone: str = DEFAULT_TIMEZONE  # the zone of a store that names none

    def open(self) -> bool:
        at = self.clock()
        return all(within_send_window(at, tz, self.window) for tz in self.zones)

    def days(self) -> dict[str, dt.date]:
        """Today in each of ``zones``, on the same clock as the window: what a contact's
        last useful day is judged against (:func:`revisit.delivery.claims.expire_past`)."""
        return local_days(self.zones, self.clock())

    def describe(self) -> str:
        """``09:00–20:00 in Asia/Shanghai`` (for messages and checkpoints)."""
        return f"{self.window.label()} in {', '.join(sorted(self.zones))}"


def local_days(zones: Iterable[str], at: dt.datetime) -> dict[str, dt.date]:
    """IANA zone → the local date at the aware instant ``at``."""
    return {tz: at.astimezone(ZoneInfo(tz)).date() for tz in zones}


def run_window(engine: Engine, run_id: int) -> SendWindow:
    """The send window of the run's campaign, as its definition was recorded when the run
    was opened (``send_window:``, or the older ``quiet_hours:``; the default when the
    definition names none). Raises ConfigError naming the campaign when it cannot be read."""
    query = (
        select(RUNS.c.campaign, CAMPAIGNS.c.definition)
        .join_from(RUNS, CAMPAIGNS, CAMPAIGNS.c.name == RUNS.c.campaign, isouter=True)
        .where(RUNS.c.id == run_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise LookupError(f"campaign run {run_id} does not exist")
    definition = row.definition or {}
    spec = definition.get("send_window") or definition.get("quiet_hours") or {}
    try:
        return SendWindow.model_validate(spec)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise ConfigError(
            f"campaign {row.campaign} (run {run_id}): its send window {spec!r} cannot be "
            f"read ({reason}); fix the campaign file and run it again"
        ) from exc


def run_zones(engine: Engine, run_id: int, default: str) -> frozenset[str]:
    """The time zones of the stores whose customers wait in the run (``default`` for a
    store without one, or when nobody waits)."""
    query = (
        select(STORES.c.timezone)
        .join_from(CONTACTS, CUSTOMERS, CUSTOMERS.c.customer_id == CONTACTS.c.customer_id)
        .join(STORES, STORES.c.store_id == CUSTOMERS.c.store_id, isouter=True)
        .where(CONTACTS.c.run_id == run_id, CONTACTS.c.status.in_(WAITING_STATUSES))
        .distinct()
    )
    with engine.connect() as conn:
        return frozenset(tz or default for tz in conn.execute(query).scalars()) or frozenset(
            {default}
        )


def gate_for_run(
    engine: Engine,
    *,
    run_id: int,
    clock: Callable[[], dt.datetime],
    default_timezone: str,
    window: SendWindow | None = None,
) -> SendGate:
    """The gate of run ``run_id``: ``window`` (default: the run's campaign's, see
    :func:`run_window`) in its stores' time zones, checked against ``clock``."""
    return SendGate(
        window=window or run_window(engine, run_id),
        zones=run_zones(engine, run_id, default_timezone),
        clock=clock,
        default_zone=default_timezone,
    )
