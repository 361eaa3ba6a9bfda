"""Who may use the web app, and what a user of one store can learn about another (issue 13,
acceptance 2 and 3): deny by default (every route, a route added later included), CSRF on
every state-changing request, the sign-in throttle, 404 for another store's ids as for ids
that do not exist, sessions that end with a reset or revoke, headers and limits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from revisit.access.audit import audit_rows
from revisit.access.throttle import LoginThrottle
from revisit.access.users import authenticate, reset_user, revoke_user
from revisit.campaigns.statuses import AuditAction
from revisit.web.i18n import pick_language
from revisit.web.routers.auth import safe_next
from tests.web_app_support import (
    World,
    app_routes,
    build_world,
    csrf_of,
    fill,
    make_client,
    sign_in,
    web_settings,
)

USERS = {
    "王芳": ("staff", ["S1"]), "李娜": ("staff", ["S2"]), "lead1": ("lead", ["S1"]),
    "root": ("admin", []),
}  # fmt: skip
PUBLIC = {
    "/healthz", "/login", "/favicon.ico", "/static/x", "/twilio/status", "/twilio/inbound",
}  # fmt: skip


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path, USERS)


def _client(engine: Engine, world: World, name: str | None = None) -> TestClient:
    client = make_client(engine, world.settings)
    return sign_in(client, name, world.passwords[name]) if name else client


def test_no_route_but_the_public_ones_answers_without_a_session(
    engine: Engine, world: World
) -> None:
    client = _client(engine, world)
    routes = app_routes(client.app)  # type: ignore[arg-type]
    assert {path for _, path in routes} >= PUBLIC | {"/calls", "/campaigns", "/runs/{run_id:int}"}
    for method, path in routes:
        url = fill(path, {"day": world.today.isoformat()})
        answer = client.request(method, url, follow_redirects=False)
        if path in PUBLIC:
            assert answer.status_code in (200, 204, 403, 404), (method, path)  # twilio: unsigned
            continue
        if method == "GET":
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login?next=")
        else:
            assert answer.status_code == 401, (method, path, answer.status_code)


def test_a_route_added_later_is_protected_and_its_crash_shows_no_detail(
    engine: Engine, world: World
) -> None:
    client = _client(engine, world)

    @client.app.get("/added-later")  # type: ignore[attr-defined,untyped-decorator]
    def added_later() -> None:
        raise RuntimeError("secret detail of the crash")

    assert client.get("/added-later", follow_redirects=False).status_code == 303
    sign_in(client, "王芳", world.passwords["王芳"])
    crashed = client.get("/added-later")
    assert crashed.status_code == 500
    assert "secret detail" not in crashed.text and "Traceback" not in crashed.text
    assert "出错了" in crashed.text


def test_every_state_changing_route_refuses_a_request_without_its_csrf_token(
    engine: Engine, world: World
) -> None:
    client = _client(engine, world, "root")
    posts = [p for m, p in app_routes(client.app) if m == "POST" and not p.startswith("/twilio/")]  # type: ignore[arg-type]
    assert "/calls/{contact_id}" in posts and "/login" in posts
    values = {"contact_id": str(world.calls["S1"][0]), "name": "maintenance_due"}
    for path in posts:
        url = fill(path, values)
        form = {"code": "booked", "day": world.today.isoformat(), "name": "root",
                "password": "x", "current": "x", "new": "y" * 12, "repeat": "y" * 12}  # fmt: skip
        for token in (None, "forged-token"):
            data = form | ({"csrf_token": token} if token else {})
            answer = client.post(url, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, token, answer.status_code)
            assert "页面已过期" in answer.text
    with engine.connect() as conn:
        assert audit_rows(conn, action=AuditAction.OUTCOME_LOGGED) == []
        assert audit_rows(conn, action=AuditAction.CAMPAIGN_LAUNCHED) == []


def _try(client: TestClient, name: str, password: str) -> tuple[int, str, str]:
    """Post the sign-in form as a browser does: (status of the POST, where it sent the
    browser, the status and text of the page it lands on)."""
    token = csrf_of(client.get("/login").text)
    posted = client.post("/login", data={"name": name, "password": password,
                                         "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303, posted.text
    landed = client.get(posted.headers["location"], follow_redirects=False)
    return landed.status_code, posted.headers["location"], landed.text


def test_the_fifth_wrong_password_is_wrong_and_the_sixth_try_waits_until_a_named_time(
    engine: Engine, world: World
) -> None:
    client = _client(engine, world)
    sign_in(client, "王芳", world.passwords["王芳"])  # her own password from now on
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/calls").text)})
    now = [dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)]
    client.app.state.throttle.clock = lambda: now[0]  # type: ignore[attr-defined]
    for attempt in range(1, 6):  # the 4th and the 5th are wrong passwords, not refusals
        status, where, text = _try(client, "王芳", "guess")
        assert (attempt, status) == (attempt, 401) and where.startswith("/login?next=")
        assert "姓名或密码不正确" in text and "尝试次数过多" not in text
        assert 'value="王芳"' in text  # the name typed is kept, the password is not
        now[0] += dt.timedelta(seconds=10)
    # the failure is shown once: a reload is the plain form, and posts nothing again
    reload = client.get("/login")
    assert reload.status_code == 200 and "姓名或密码不正确" not in reload.text
    # the 6th try, even with the right password, is refused until 15 minutes after the
    # 5th failure (01:00:40 UTC + 15 min = 09:15 in Asia/Shanghai), and says so
    status, _, text = _try(client, "王芳", "a-long-password-1")
    assert status == 429 and "尝试次数过多" in text and "09:15 (北京时间)" in text
    # a colleague at the same address (one office, one IP) signs in with her own password
    colleague = _client(engine, world)
    colleague.app.state.throttle = client.app.state.throttle  # type: ignore[attr-defined]
    status, where, _ = _try(colleague, "李娜", world.passwords["李娜"])
    assert where == "/password" and status == 200
    now[0] += dt.timedelta(minutes=14)
    assert _try(client, "王芳", "a-long-password-1")[0] == 429
    now[0] += dt.timedelta(minutes=1)  # the window has passed since the last failure
    token = csrf_of(client.get("/login").text)
    right = {"name": "王芳", "password": "a-long-password-1", "csrf_token": token}
    signed = client.post("/login", data=right, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    assert client.get("/calls").status_code == 200


def test_another_process_counts_its_own_tries(engine: Engine, world: World) -> None:
    client = _client(engine, world)
    for _ in range(6):
        _try(client, "王芳", "guess")
    assert _try(client, "王芳", world.passwords["王芳"])[0] == 429
    # another process (a new app) has its own count: she signs in there
    assert (
        sign_in(_client(engine, world), "王芳", world.passwords["王芳"]).get("/calls").status_code
        == 200
    )


def test_the_throttle_forgets_failures_after_its_window() -> None:
    throttle, t0 = (
        LoginThrottle(max_failures=5, window=dt.timedelta(minutes=15)),
        dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    )
    keys = LoginThrottle.keys("王芳", "10.0.0.1")
    for i in range(5):
        assert throttle.retry_after(keys, t0) is None
        throttle.failed(keys, t0 + dt.timedelta(seconds=i))
    assert throttle.retry_after(keys, t0 + dt.timedelta(minutes=1)) == dt.timedelta(
        minutes=14, seconds=4
    )
    assert throttle.retry_after(keys, t0 + dt.timedelta(minutes=15, seconds=5)) is None
    # a right password clears the name's count, not the address's
    throttle.failed(keys, t0)
    throttle.succeeded(keys)
    assert throttle.retry_after(LoginThrottle.keys("王芳", "10.0.0.2"), t0) is None


def _not_found_body(client: TestClient, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 404, (url, answer.status_code)
    return answer.text


def test_another_stores_ids_answer_exactly_as_ids_that_do_not_exist(
    engine: Engine, world: World
) -> None:
    for name in ("王芳", "lead1"):
        client = _client(engine, world, name)
        unknown = _not_found_body(client, "/calls/999999")
        s2 = [f"/calls/{i}" for i in world.calls["S2"]]
        s2 += [f"/customers/{c}" for c in world.customers["S2"]]
        if name == "lead1":
            s2 += [f"/runs/{world.sms_run}", f"/runs/{world.sms_run}.json"]
            assert _not_found_body(client, "/runs/999999") == unknown
            assert client.get("/runs/999999.json").json() == client.get(s2[-1]).json()
        for url in s2:
            if url.endswith(".json"):
                assert client.get(url).status_code == 404
            else:
                assert _not_found_body(client, url) == unknown, url
        assert _not_found_body(client, "/customers/NOPE") == unknown
        token = csrf_of(client.get("/calls").text)
        posted = client.post(f"/calls/{world.calls['S2'][0]}",
                             data={"code": "booked", "csrf_token": token})  # fmt: skip
        assert posted.status_code == 404 and posted.text == unknown
        # S1's own are there
        assert client.get(f"/calls/{world.calls['S1'][0]}").status_code == 200
        assert client.get(f"/customers/{world.customers['S1'][0]}").status_code == 200
    with engine.connect() as conn:
        assert audit_rows(conn, action=AuditAction.OUTCOME_LOGGED) == []


def test_no_page_of_an_s1_user_mentions_s2s_numbers(engine: Engine, world: World) -> None:
    lead = _client(engine, world, "lead1")
    page = lead.get("/campaigns").text
    row = page[page.index('data-campaign="maintenance_due"') :].split("</tr>")[0]
    assert '<td class="num to-contact" data-label="待联系">0</td>' in row  # S2's two are not shown
    assert '<td class="num" data-label="目标">0</td>' in row
    preview = lead.get("/campaigns/post_service_followup").text
    assert '<b class="n-targeted">3</b>' in preview  # S1's three of six
    calls_run = lead.get(f"/runs/{world.call_run}.json").json()
    assert calls_run["by_status"] == {"listed": 3} and calls_run["to_make"] == 3
    admin = _client(engine, world, "root")
    assert admin.get(f"/runs/{world.call_run}.json").json()["by_status"] == {"listed": 6}


def test_staff_do_not_reach_the_leads_pages(engine: Engine, world: World) -> None:
    staff = _client(engine, world, "王芳")
    for url in ("/campaigns", "/campaigns/maintenance_due", f"/runs/{world.call_run}"):
        assert staff.get(url).status_code == 404, url


def test_phones_are_masked_except_on_the_callers_own_call_sheet(
    engine: Engine, world: World
) -> None:
    client = _client(engine, world, "王芳")
    listing = client.get("/calls").text
    assert "+86 139****" in listing and "+8613900" not in listing and "139 00" not in listing
    sheet = client.get(f"/calls/{world.calls['S1'][0]}").text
    assert 'href="tel:+8613' in sheet
    customer = client.get(f"/customers/{world.customers['S1'][0]}").text
    assert "+86 139****" in customer and "tel:" not in customer and "+8613" not in customer


def test_a_one_time_password_leads_to_the_password_page_first(engine: Engine, world: World) -> None:
    client = _client(engine, world)
    token = csrf_of(client.get("/login").text)
    one_time = world.passwords["李娜"]
    data = {"name": "李娜", "password": one_time, "csrf_token": token}
    first = client.post("/login", follow_redirects=False, data=data)
    assert first.headers["location"] == "/password"
    assert client.get("/calls", follow_redirects=False).headers["location"] == "/password"
    form = csrf_of(client.get("/password").text)
    short = client.post("/password", data={"current": world.passwords["李娜"], "new": "short",
                                            "repeat": "short", "csrf_token": form})  # fmt: skip
    assert short.status_code == 400 and "新密码至少 10 位" in short.text  # zh, as the page
    chosen = {"current": one_time, "new": "her-own-password", "repeat": "her-own-password",
              "csrf_token": form}  # fmt: skip
    ok = client.post("/password", follow_redirects=False, data=chosen)
    assert ok.status_code == 303
    assert client.get("/calls").status_code == 200
    with engine.connect() as conn:
        assert authenticate(conn, name="李娜", password=world.passwords["李娜"]) is None
        assert authenticate(conn, name="李娜", password="her-own-password") is not None
        changes = audit_rows(conn, action=AuditAction.PASSWORD_CHANGED)
    assert [(a["actor"], a["entity_id"]) for a in changes] == [("李娜", "李娜")]


@pytest.mark.parametrize("change", ["revoke", "reset"])
def test_a_revoke_or_reset_ends_open_sessions(engine: Engine, world: World, change: str) -> None:
    client = _client(engine, world, "王芳")
    assert client.get("/calls").status_code == 200
    with engine.begin() as conn:
        if change == "revoke":
            revoke_user(conn, name="王芳", actor="cli:admin")
        else:
            reset_user(conn, name="王芳", actor="cli:admin")
    assert client.get("/calls", follow_redirects=False).headers["location"].startswith("/login")
    with engine.connect() as conn:
        actions = [a["action"] for a in audit_rows(conn) if a["entity_id"] == "王芳"]
    assert actions[0] == "user_added" and actions[-1] == f"user_{change}" + (
        "d" if change == "revoke" else ""
    )


def test_headers_limits_and_the_missing_secret_key(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    client = _client(engine, world, "王芳")
    for url in ("/calls", "/healthz", "/login", "/calls/999999"):
        headers = client.get(url).headers
        assert "script-src 'self'" in headers["content-security-policy"], url
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    cookie = client.cookies.jar
    assert cookie, "a session cookie"
    big = client.post("/login", content=b"x" * (300 * 1024),
                      headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert big.status_code == 413
    keyless = make_client(engine, web_settings(tmp_path, secret_key=None))
    refused = keyless.get("/calls", follow_redirects=False)
    assert refused.status_code == 503 and "set REVISIT_SECRET_KEY" in refused.text
    assert keyless.get("/healthz").status_code == 200


def test_session_cookies_are_httponly_lax_and_secure_behind_https(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path, public_url="https://revisit.example.com")
    client = TestClient(make_client(engine, settings).app, base_url="https://testserver")
    answer = client.get("/login")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    plain = make_client(engine, world.settings).get("/login").headers["set-cookie"].lower()
    assert "secure" not in plain


@pytest.mark.parametrize(
    ("user", "header", "expected"),
    [
        (None, None, "zh"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5, zh;q=0.8", "zh"),
        (None, "zh-CN;q=0, en;q=0.1", "en"),
        (None, "de, fr", "zh"),
        (None, "en;q=bogus, zh", "zh"),
        ("en", "zh-CN", "en"),
        ("zh", "en", "zh"),
    ],
)  # fmt: skip
def test_the_pages_language(user: str | None, header: str | None, expected: str) -> None:
    assert pick_language(user, header) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/calls/3", "/calls/3"), ("https://evil.example/", "/"), ("//evil.example", "/"),
     ("/\\evil.example", "/"), ("", "/"), (None, "/"), ("calls", "/")],
)  # fmt: skip
def test_sign_in_only_returns_to_a_page_of_this_app(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_browsers_own_requests_before_sign_in_leave_the_form_valid(
    engine: Engine, world: World
) -> None:
    """Regression: Chromium asks for /favicon.ico once the sign-in page has loaded; that
    request (like any page asked for before signing in) cleared the session, CSRF token and
    all, so every first sign-in from a browser was refused 403 "page expired"."""
    client = _client(engine, world)
    token = csrf_of(client.get("/login").text)
    assert client.get("/favicon.ico").status_code == 204  # no icon, no sign-in detour
    assert client.get("/calls", follow_redirects=False).status_code == 303  # to /login
    done = client.post(
        "/login", follow_redirects=False,
        data={"name": "root", "password": world.passwords["root"], "csrf_token": token},
    )  # fmt: skip
    assert done.status_code == 303, done.text


def test_many_names_guessed_from_one_address_wait_but_a_name_alone_waits_after_five(
    engine: Engine, world: World
) -> None:
    client = _client(engine, world)
    throttle = client.app.state.throttle  # type: ignore[attr-defined]
    throttle.max_address_failures = 12
    now = [dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)]
    throttle.clock = lambda: now[0]
    for guess in range(12):  # four tries each of three made-up names: none reaches five
        status, _, text = _try(client, f"nobody{guess % 3}", "guess")
        assert status == 401 and "尝试次数过多" not in text
        now[0] += dt.timedelta(seconds=5)
    # the address has reached its limit: every name waits, a real one with her password too
    status, _, text = _try(client, "李娜", world.passwords["李娜"])
    assert status == 429 and "尝试次数过多" in text
    now[0] += dt.timedelta(minutes=15, seconds=1)
    assert _try(client, "李娜", world.passwords["李娜"])[1] == "/password"
