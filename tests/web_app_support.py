"""A dealer group of two stores for the web app's tests, its users, and signed-in clients.

S1 (caller 王芳) and S2 (caller 李娜) each have three customers back from the shop two days
ago: today's post-service follow-up call run lists them to their store's caller. S2 alone
has two customers due for maintenance, so today's maintenance SMS run has contacts in S2
only. Both have customers not back for 500 days (lapsed_12_24, not run yet): two in S1,
three in S2. One customer of each store has sent a reply that is not a keyword.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.routing import BaseRoute, Mount

from revisit.access.users import add_user, parse_role
from revisit.db.tables import CONTACTS, CUSTOMERS
from revisit.entry.lookup import campaign_files
from revisit.entry.runs import RunReport, run_campaign
from revisit.outcomes.replies import record_reply
from revisit.settings import Settings
from revisit.web import create_app
from tests.factories import make_customer, make_store, make_vehicle, make_visit

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-password-1"


@dataclass
class World:
    """The group's ids: contacts and customers per store, the runs, and the users'
    one-time passwords."""

    today: dt.date
    settings: Settings
    call_run: int
    sms_run: int
    calls: dict[str, list[int]] = field(default_factory=dict)  # store → call contact ids
    customers: dict[str, list[str]] = field(default_factory=dict)  # store → customer ids
    passwords: dict[str, str] = field(default_factory=dict)


def web_settings(tmp_path: Path, **kw: object) -> Settings:
    """Settings of a test deployment: the shipped campaigns and templates, a session key."""
    values: dict[str, object] = {
        "campaigns_dir": ROOT / "campaigns", "templates_dir": ROOT / "templates",
        "output_dir": tmp_path / "out", "secret_key": "test-secret-key-not-for-production",
        "twilio_account_sid": None, "twilio_auth_token": None, "prefect_api_url": None,
    }  # fmt: skip
    return Settings(**(values | kw))  # type: ignore[arg-type]


def _customers(
    s: Session, store: str, today: dt.date, n_followup: int, n_due: int, n_lapsed: int
) -> None:
    for _ in range(n_followup):
        c = make_customer(s, store_id=store)
        v = make_vehicle(s, customer=c, purchase_date=today - dt.timedelta(days=900))
        make_visit(s, vehicle=v, date=today - dt.timedelta(days=2), type="repair", advisor="陈明")
    for _ in range(n_due):
        c = make_customer(s, store_id=store)
        v = make_vehicle(s, customer=c, purchase_date=today - dt.timedelta(days=1500))
        make_visit(s, vehicle=v, date=today - dt.timedelta(days=175), type="maintenance")
    for _ in range(n_lapsed):
        c = make_customer(s, store_id=store)
        v = make_vehicle(s, customer=c, purchase_date=today - dt.timedelta(days=2000))
        make_visit(s, vehicle=v, date=today - dt.timedelta(days=500), type="maintenance")


def run_at(engine: Engine, settings: Settings, name: str, day: dt.date, *, hour: int) -> RunReport:
    """Run a campaign for ``day`` as if the wall clock said ``hour``:00 in the default time
    zone (22:00 is outside every send window: the SMS wait, pending)."""
    at = dt.datetime.combine(day, dt.time(hour), ZoneInfo(settings.default_timezone))
    files = campaign_files(settings)
    return run_campaign(
        engine, campaign=files.campaigns[name], campaigns=files.campaigns, as_of=day,
        clock=lambda: at, settings=settings, wall_clock=lambda: at,
    )  # fmt: skip


def build_world(engine: Engine, tmp_path: Path, users: dict[str, tuple[str, list[str]]]) -> World:
    """The two stores, today's two runs, one reply per store, and ``users`` (name → role,
    stores)."""
    settings = web_settings(tmp_path)
    today = settings.today()
    with Session(engine) as s:
        make_store(s, store_id="S1", name="泉州店", phone="0595-22881234", callers="王芳")
        make_store(s, store_id="S2", name="厦门店", phone="0592-5551234", callers="李娜")
        _customers(s, "S1", today, n_followup=3, n_due=0, n_lapsed=2)
        _customers(s, "S2", today, n_followup=3, n_due=2, n_lapsed=3)
        s.commit()
    call = run_at(engine, settings, "post_service_followup", today, hour=10)
    sms = run_at(engine, settings, "maintenance_due", today, hour=10)
    assert call.run_id is not None and sms.run_id is not None
    world = World(today=today, settings=settings, call_run=call.run_id, sms_run=sms.run_id)
    with engine.begin() as conn:
        rows = conn.execute(
            select(CONTACTS.c.id, CUSTOMERS.c.store_id, CUSTOMERS.c.customer_id, CUSTOMERS.c.phone)
            .join(CUSTOMERS, CUSTOMERS.c.customer_id == CONTACTS.c.customer_id)
            .where(CONTACTS.c.run_id == call.run_id)
            .order_by(CONTACTS.c.id)
        ).all()
        for contact_id, store, customer_id, phone in rows:
            world.calls.setdefault(store, []).append(contact_id)
            world.customers.setdefault(store, []).append(customer_id)
            if len(world.customers[store]) == 1:
                record_reply(
                    conn, from_phone=phone, body=f"{store} 下周二上午方便吗", sid=f"SM{store}"
                )
        for name, (role, stores) in users.items():
            world.passwords[name] = add_user(
                conn, name=name, role=parse_role(role), stores=stores, actor="test"
            )
    return world


def make_client(engine: Engine, settings: Settings, **app: Any) -> TestClient:
    """A client of a new app (no cookies yet; ``app``: more arguments of ``create_app``,
    a clock or a launcher); server errors become 500 pages."""
    return TestClient(create_app(settings, engine, **app), raise_server_exceptions=False)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str, new: str = PASSWORD) -> TestClient:
    """Sign ``name`` in (choosing ``new`` when the password is one-time); the client keeps
    the session."""
    token = csrf_of(client.get("/login").text)
    done = client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    if done.headers["location"] == "/password":
        form = client.get("/password")
        changed = client.post(
            "/password", follow_redirects=False,
            data={"current": password, "new": new, "repeat": new,
                  "csrf_token": csrf_of(form.text)},
        )  # fmt: skip
        assert changed.status_code == 303, changed.text
    return client


def route_table(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of every route of an app, included routers and mounts too (a mount
    as GET of its path + ``/x``)."""
    found: list[tuple[str, str]] = []
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            inner = getattr(route, "include_context", None)
            found += route_table(original.routes, prefix + (getattr(inner, "prefix", "") or ""))
        elif isinstance(route, APIRoute):
            found += [(m, prefix + route.path) for m in sorted(route.methods or ())]
        elif isinstance(route, Mount):
            found.append(("GET", prefix + route.path + "/x"))
    return found


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, path parameters as written."""
    return route_table(list(app.router.routes))


def fill(path: str, values: dict[str, str]) -> str:
    """A path with its ``{parameters}`` (``{run_id:int}`` too) replaced by ``values`` or 1."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "1"), path)
