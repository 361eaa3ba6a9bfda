"""The outbox's run lifecycle: opening a run writes its contacts once, finishing stores where
it stands; and every channel kind opens a channel behind the same three steps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.plan import plan_campaign
from revisit.campaigns.statuses import ContactStatus, RunStatus
from revisit.db.tables import CampaignRun, Contact
from revisit.delivery import outbox
from revisit.delivery.channels import RunChannel, open_channel
from revisit.entry.runs import pinned_clock
from revisit.rendering import Renderer
from tests.test_runs import AS_OF, MORNING, ROOT, dealership, settings_for


def _contacts(engine: Engine) -> list[tuple[str, str, str | None]]:
    with Session(engine) as s:
        rows = s.exec(select(Contact).order_by(Contact.customer_id)).all()
        return [(c.customer_id, c.status, c.body) for c in rows]


def test_a_run_is_opened_once_and_its_contacts_written_once(engine: Engine) -> None:
    dealership(engine)
    campaign = load_campaigns(ROOT / "campaigns")["maintenance_due"]
    campaign = campaign.model_copy(update={"holdout_pct": 0})
    with Session(engine) as s:
        plan = plan_campaign(s, campaign=campaign, as_of=AS_OF, now=MORNING)
        texts = {r.customer_id: ("first", 1) for r in plan.rows}
        run = outbox.open_run(s, plan=plan, texts=texts)
        s.commit()
        first = _contacts(engine)
        again = {cid: ("second", 1) for cid in texts}
        assert run.id is not None
        outbox.materialise(s, run_id=run.id, plan=plan, texts=again)  # a customer already in
        s.commit()
        assert outbox.existing_run(s, campaign=campaign.name, as_of=AS_OF) == run
    assert _contacts(engine) == first and len(first) == plan.targeted
    assert {body for _, status, body in first if status == ContactStatus.PENDING} == {"first"}


def test_finish_run_keeps_the_plan_and_stamps_a_done_run(engine: Engine) -> None:
    dealership(engine)
    campaign = load_campaigns(ROOT / "campaigns")["maintenance_due"]
    with Session(engine) as s:
        plan = plan_campaign(s, campaign=campaign, as_of=AS_OF, now=MORNING)
        run_id = outbox.open_run(s, plan=plan, texts={}).id
        s.commit()
    assert run_id is not None
    now = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    deferred = outbox.finish_run(engine, run_id=run_id, status=RunStatus.DEFERRED, now=now)
    counts = outbox.finish_run(
        engine, run_id=run_id, status=RunStatus.DONE, now=now, dispatch={"sent": 0}
    )
    assert counts == deferred and sum(counts.values()) == plan.targeted
    with Session(engine) as s:
        run = s.get(CampaignRun, run_id)
        assert run is not None and run.status == RunStatus.DONE and run.finished_at is not None
        assert run.counts["targeted"] == plan.targeted and run.counts["outbox"] == counts
        assert run.counts["dispatch"] == {"sent": 0, "by_status": counts}


@pytest.mark.parametrize("name", ["maintenance_due", "post_service_followup"])
def test_every_channel_kind_opens_a_channel_of_that_kind(name: str, tmp_path: Path) -> None:
    campaign = load_campaigns(ROOT / "campaigns")[name]
    channel = open_channel(
        campaign, settings=settings_for("sqlite://", tmp_path), as_of=AS_OF,
        clock=pinned_clock(MORNING), renderer=Renderer(ROOT / "templates"),
    )  # fmt: skip
    assert isinstance(channel, RunChannel) and channel.kind == campaign.channel
    channel.close()
