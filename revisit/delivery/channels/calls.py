"""The call channel of a run: its waiting contacts, and the campaign's callbacks due that
day, go on the call lists of the store's callers
(:func:`revisit.delivery.calls.produce_call_lists`), each with a call sheet rendered from the
contact's details — the due dates and reasons the plan had — and are marked listed with
their caller; staff are told on the webhook, if one is set. A contact past its last useful
day (a 3DC list resumed after its window) expires instead of being listed, judged on the
run's clock in its store's time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.statuses import ChannelKind, RunStatus
from revisit.db.engine import chunked
from revisit.delivery import outbox
from revisit.delivery.calls import UNASSIGNED, CallListResult, produce_call_lists
from revisit.delivery.channels.run import Delivered
from revisit.delivery.gate import local_days, run_zones
from revisit.rendering import Renderer, load_contexts, refs_from_details
from revisit.settings import Settings

CONTEXT_CHUNK = 2000  # waiting calls whose render contexts are loaded together


class CallChannel:
    kind = ChannelKind.CALL

    def __init__(
        self,
        campaign: CampaignDef,
        *,
        settings: Settings,
        as_of: dt.date,
        clock: Callable[[], dt.datetime],
        renderer: Renderer,
    ) -> None:
        self.campaign, self.settings, self.as_of = campaign, settings, as_of
        self.clock, self.renderer = clock, renderer

    def find(self, engine: Engine, *, run_id: int) -> int:
        """Contacts not yet on a call list (the run's, and the callbacks due that day)."""
        with Session(engine) as session:
            return len(self._waiting(session, run_id))

    def _waiting(self, session: Session, run_id: int) -> list[outbox.WaitingCall]:
        return outbox.waiting_calls(
            session, run_id=run_id, campaign=self.campaign.name, as_of=self.as_of
        )

    def send(self, engine: Engine, *, run_id: int) -> Delivered:
        """Write the call lists of the waiting contacts and mark them listed with their
        caller, in one transaction once the files are written."""
        c = self.campaign
        default = self.settings.default_timezone
        days = local_days(run_zones(engine, run_id, default), self.clock())
        with Session(engine) as session:
            outbox.expire_past(
                session.connection(), run_id=run_id, days=days, default_timezone=default
            )
            waiting = self._waiting(session, run_id)
            if not waiting:
                session.commit()  # the expired contacts
                return Delivered(RunStatus.DONE)

            def contexts() -> Iterator[dict[str, dict[str, Any]]]:  # a batch at a time
                for chunk in chunked(waiting, CONTEXT_CHUNK):
                    refs = [
                        r
                        for w in chunk
                        for r in refs_from_details(w.customer_id, w.vins, w.details)
                    ]
                    yield load_contexts(
                        session, campaign_name=c.name, cohort=c.cohort, channel=c.channel,
                        as_of=self.as_of, members=refs, campaign_vars=c.template_vars(),
                    )  # fmt: skip

            result = produce_call_lists(
                session, renderer=self.renderer, contexts=contexts(),
                out_dir=self.settings.output_dir / "calls" / self.as_of.isoformat(),
                campaign=c.name, as_of=self.as_of, priority=c.priority,
                contact_ids={w.customer_id: w.id for w in waiting}, templates=c.templates,
                callers=c.callers, prefer_advisor=c.call_by == "last_advisor",
                preset={w.customer_id: w.caller for w in waiting if w.caller},
                managers=self.settings.service_managers if c.call_to != "staff" else None,
            )  # fmt: skip
            callers = {r.customer_id: r.caller for r in result.rows}
            by_caller: dict[str, list[int]] = {}
            for w in waiting:
                by_caller.setdefault(callers.get(w.customer_id, UNASSIGNED), []).append(w.id)
            outbox.mark_listed(session, by_caller=by_caller, now=self.clock())
            session.commit()
        self._notify(result)
        return Delivered(RunStatus.DONE, call_lists=[str(p) for p in result.files])

    def _notify(self, result: CallListResult) -> None:
        secret = self.settings.staff_webhook_url
        url = secret.get_secret_value() if secret else ""
        if not url:
            return
        import httpx

        from revisit.delivery.notify import notify_staff

        with httpx.Client(timeout=10.0) as client:
            notify_staff(
                url, campaign=self.campaign.name, as_of=self.as_of, files=result.files,
                counts=result.counts, client=client,
            )  # fmt: skip

    def close(self) -> None:
        """Nothing is held between sends."""
