"""A fake Twilio Messages API for tests, benchmarks and local development.

It speaks the parts of the 2010-04-01 Messages API that revisit uses (create, fetch, list
with ``To``/``From``/``DateSent`` filters and paging), with Basic auth and the JSON shapes of
Twilio's published OpenAPI description, and injects trouble on demand: latency, 500s before
or after the message is created, answers that hang after the message was created (a client
timeout: the dangerous case), a per-second cap answered with 429/20429 and ``Retry-After``,
and numbers that answer any error code (21610, 21211, 21408, …). Every accepted message is
kept, so a test can assert that no phone received two messages.

Like Twilio, an accepted message is first ``queued`` (``accepted`` through a Messaging
Service) with no ``date_sent``, and only leaves the queue later: after ``queue_seconds``, or
when a sender limited to ``sender_per_second`` gets to it (a backlog that can last hours on a
real account). ``DateSent`` filters see only messages that have left the queue. Time is the
fake's clock: the wall clock, or one a test moves (simulated time).

Delivery statuses: a message created with ``StatusCallback`` gets signed status callbacks
(``X-Twilio-Signature`` computed with the SDK's ``RequestValidator`` and the fake's auth
token) — automatically (``FakeConfig.deliver``: ``sent`` then that final status, possibly
before the creating request has been answered) or when a test calls :meth:`FakeTwilio.advance`;
fetching a message returns its current status and error code. :meth:`FakeTwilio.send_inbound`
posts a signed reply to an inbound webhook.

Run it with ``revisit dev fake-twilio`` or, in tests, :func:`serve_fake_twilio`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import math
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from devtools.twilio_requests import SignedRequests
from revisit.settings import Settings

API = "/2010-04-01/Accounts/{account_sid}"
ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    21211: (400, "Invalid 'To' Phone Number"),
    21602: (400, "Message body is required."),
    21603: (400, "The 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    20500: (500, "An internal server error has occurred"),
}
GENERIC_ERROR = (400, "Message could not be sent")  # any other code given in error_numbers
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = set("^{}\\[~]|€\f")


@dataclass
class FakeConfig:
    account_sid: str = "AC" + "f" * 32
    auth_token: str = "fake-auth-token"
    latency_ms: float = 0.0
    fail_rate: float = 0.0  # 500, nothing created
    fail_after_create_rate: float = 0.0  # created, then 500
    timeout_rate: float = 0.0  # created, then the answer hangs for hang_seconds
    hang_seconds: float = 30.0
    cap_per_second: float | None = None  # beyond it: 429, code 20429, Retry-After
    retry_after_s: int = 1
    error_numbers: dict[str, int] = field(default_factory=dict)  # To -> error code
    error_all: int | None = None  # answer this code to every create (an account fault)
    queue_seconds: float = 0.0  # every accepted message stays queued at least this long
    sender_per_second: float | None = None  # the sender's throughput: a backlog beyond it
    seed: int | None = None
    # After a create with StatusCallback: post "sent", then this status (delivered,
    # undelivered, failed), callback_delay_ms apart; None: only when a test calls advance().
    deliver: str | None = None
    deliver_error_code: int | None = None  # the ErrorCode sent with an undelivered/failed
    callback_delay_ms: float = 0.0


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    created: dt.datetime
    arrived: float  # time.monotonic() when the request arrived
    idempotency_token: str | None
    num_segments: int
    status_callback: str | None = None
    status: str = "sent"  # what fetch and list say (the create answer says queued)
    error_code: int | None = None
    queued_for: dt.timedelta = dt.timedelta(0)  # from created to leaving the queue

    def date_sent(self, now: dt.datetime) -> dt.datetime | None:
        """When it left the queue, or None while it is still queued at ``now``."""
        leaves = self.created + self.queued_for
        return leaves if leaves <= now else None


def segments(body: str) -> int:
    """SMS segments: GSM-7 160/153 septets, otherwise UCS-2 70/67 UTF-16 units."""
    if all(ch in GSM7 or ch in GSM7_EXT for ch in body):
        n = sum(2 if ch in GSM7_EXT else 1 for ch in body)
        return 1 if n <= 160 else math.ceil(n / 153)
    n = len(body.encode("utf-16-le")) // 2
    return 1 if n <= 70 else math.ceil(n / 67)


def _error(code: int, detail: str = "") -> JSONResponse:
    status, message = ERRORS.get(code, GENERIC_ERROR)
    return JSONResponse(
        {
            "code": code,
            "message": f"{message}{': ' + detail if detail else ''}",
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _day(value: str) -> dt.date:
    """A ``DateSent`` filter value (``YYYY-MM-DD`` or an ISO date-time) as a GMT day."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).date()


class FakeTwilio(SignedRequests):
    """The fake's state and its ASGI app. Thread-safe to inspect from a test."""

    def __init__(
        self, config: FakeConfig | None = None, *, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.config = config or FakeConfig()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.stopping = False
        self._lock = threading.Lock()
        self.reset()

    def now(self) -> dt.datetime:
        """The fake's time (aware UTC): the wall clock unless a test gave another clock."""
        return self.clock()

    def reset(self) -> None:
        with self._lock:
            self.messages: list[FakeMessage] = []
            self._by_sid: dict[str, FakeMessage] = {}
            self._window: collections.deque[float] = collections.deque()
            self.throttled = 0
            self.failed = 0
            self.list_requests = 0
            self.callbacks: list[tuple[str, dict[str, str], int]] = []  # url, form, HTTP status
            self._backlog_until: dt.datetime | None = None
            self._rng = random.Random(self.config.seed)

    # --- what tests look at --------------------------------------------------------------

    def snapshot(self) -> list[FakeMessage]:
        with self._lock:
            return list(self.messages)

    def per_phone(self) -> collections.Counter[str]:
        return collections.Counter(m.to for m in self.snapshot())

    def queued(self) -> list[FakeMessage]:
        """The messages still in the provider's queue (no ``date_sent`` yet)."""
        now = self.now()
        return [m for m in self.snapshot() if m.date_sent(now) is None]

    def duplicates(self) -> dict[str, int]:
        return {to: n for to, n in self.per_phone().items() if n > 1}

    def stats(self) -> dict[str, Any]:
        arrivals = sorted(m.arrived for m in self.snapshot())
        return {
            "accepted": len(arrivals),
            "throttled": self.throttled,
            "failed": self.failed,
            "list_requests": self.list_requests,
            "duplicates": len(self.duplicates()),
            "max_per_second": max_in_window(arrivals, 1.0),
        }

    # --- the API --------------------------------------------------------------------------

    def _authorised(self, request: Request, account_sid: str) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        expected = f"{self.config.account_sid}:{self.config.auth_token}".encode()
        given = b""
        if header.lower().startswith("basic "):
            try:
                given = base64.b64decode(header[6:].strip())
            except ValueError:
                given = b""
        if not secrets.compare_digest(given, expected):
            return _error(20003)
        if account_sid != self.config.account_sid:
            return _error(20404)
        return None

    def _throttle(self, now: float) -> bool:
        cap = self.config.cap_per_second
        with self._lock:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if cap is not None and len(self._window) >= cap:
                self.throttled += 1
                return True
            self._window.append(now)
            return False

    def _roll(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _create(self, form: dict[str, str], arrived: float, token: str | None) -> FakeMessage:
        created = self.now().replace(microsecond=0)
        msg = FakeMessage(
            sid="SM" + secrets.token_hex(16),
            to=form["To"],
            from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"),
            body=form["Body"],
            created=created,
            arrived=arrived,
            idempotency_token=token,
            num_segments=segments(form["Body"]),
            status_callback=form.get("StatusCallback"),
        )
        with self._lock:
            msg.queued_for = self._queue_time(created)
            self.messages.append(msg)
            self._by_sid[msg.sid] = msg
        return msg

    def _queue_time(self, created: dt.datetime) -> dt.timedelta:
        """How long a message created now waits in the queue (call with the lock held)."""
        leaves = created + dt.timedelta(seconds=self.config.queue_seconds)
        if self.config.sender_per_second:
            if self._backlog_until is not None and self._backlog_until > leaves:
                leaves = self._backlog_until
            self._backlog_until = leaves + dt.timedelta(seconds=1 / self.config.sender_per_second)
        return leaves - created

    def status(
        self, m: FakeMessage, *, just_created: bool = False
    ) -> tuple[str, dt.datetime | None]:
        """The message's status and date_sent now: queued (``accepted`` through a
        Messaging Service) with no date_sent until it leaves the queue, then ``sent``. The
        answer to a create is always the queued state, as Twilio's is."""
        sent = None if just_created else m.date_sent(self.now())
        if sent is not None:
            return m.status, sent  # sent, or the delivery status given to it since
        return ("accepted" if m.messaging_service_sid else "queued"), None

    def resource(
        self, m: FakeMessage, status: str | None = None, *, just_created: bool = False
    ) -> dict[str, Any]:
        acc = self.config.account_sid
        now_status, sent = self.status(m, just_created=just_created or status == "queued")
        status = status or now_status
        uri = f"/2010-04-01/Accounts/{acc}/Messages/{m.sid}"
        return {
            "account_sid": acc,
            "api_version": "2010-04-01",
            "body": m.body,
            "date_created": format_datetime(m.created),
            "date_sent": format_datetime(sent) if sent else None,
            "date_updated": format_datetime(sent or m.created),
            "direction": "outbound-api",
            "error_code": m.error_code,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(m.num_segments),
            "price": None,
            "price_unit": None,
            "sid": m.sid,
            "status": status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": m.to,
            "uri": f"{uri}.json",
        }

    async def create(self, request: Request, account_sid: str) -> JSONResponse:
        arrived = time.monotonic()
        if denied := self._authorised(request, account_sid):
            return denied
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        if not form.get("To"):
            return _error(21604)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return _error(21603)
        if not form.get("Body"):
            return _error(21602)
        if self._throttle(arrived):
            resp = _error(20429)
            resp.headers["Retry-After"] = str(self.config.retry_after_s)
            return resp
        await asyncio.sleep(self.config.latency_ms / 1000)
        if code := self.config.error_all or self.config.error_numbers.get(form["To"]):
            return _error(code, form["To"])
        if self._roll(self.config.fail_rate):
            self.failed += 1
            return _error(20500)
        msg = self._create(form, arrived, request.headers.get("i-twilio-idempotency-token"))
        if self._roll(self.config.fail_after_create_rate):
            self.failed += 1
            return _error(20500)
        if msg.status_callback and self.config.deliver:
            asyncio.get_running_loop().create_task(self._deliver(msg))
        if self._roll(self.config.timeout_rate):
            await self._hang()
        return JSONResponse(self.resource(msg, just_created=True), status_code=201)

    async def _hang(self) -> None:
        """Hold the answer back (the client times out), but let a shutdown end it."""
        deadline = time.monotonic() + self.config.hang_seconds
        while time.monotonic() < deadline and not self.stopping:
            await asyncio.sleep(0.05)

    async def fetch(self, request: Request, account_sid: str, sid: str) -> JSONResponse:
        if denied := self._authorised(request, account_sid):
            return denied
        with self._lock:
            msg = self._by_sid.get(sid)
        return JSONResponse(self.resource(msg)) if msg else _error(20404)

    async def list_messages(self, request: Request, account_sid: str) -> JSONResponse:
        if denied := self._authorised(request, account_sid):
            return denied
        q = request.query_params
        with self._lock:
            self.list_requests += 1
        try:
            rows = self._filtered(q)
            size = max(1, min(1000, int(q.get("PageSize", "50"))))
            page = int(q.get("Page", "0"))
        except ValueError as exc:
            return JSONResponse({"code": 20001, "message": str(exc), "status": 400}, 400)
        start = 0
        if token := q.get("PageToken"):
            after = token.removeprefix("PA")
            start = next((i + 1 for i, m in enumerate(rows) if m.sid == after), len(rows))
        chunk = rows[start : start + size]
        base = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        keep = {k: v for k, v in q.items() if k not in ("Page", "PageToken", "PageSize")}

        def link(**extra: Any) -> str:
            return f"{base}?{urlencode({**keep, 'PageSize': size, **extra})}"

        more = start + size < len(rows)
        return JSONResponse(
            {
                "end": start + len(chunk) - 1 if chunk else 0,
                "first_page_uri": link(Page=0),
                "next_page_uri": link(Page=page + 1, PageToken="PA" + chunk[-1].sid)
                if more and chunk
                else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": None,
                "start": start,
                "uri": link(Page=page),
                "messages": [self.resource(m) for m in chunk],
            }
        )

    def _filtered(self, q: Any) -> list[FakeMessage]:
        rows = self.snapshot()
        if to := q.get("To"):
            rows = [m for m in rows if m.to == to]
        if frm := q.get("From"):
            rows = [m for m in rows if m.from_ == frm]
        # DateSent filters leave out what is still queued (it has no date_sent yet).
        now = self.now()
        for key, keep in (
            ("DateSent", lambda day, on: day == on),
            ("DateSent>", lambda day, on: day >= on),
            ("DateSent<", lambda day, on: day <= on),
        ):
            if value := q.get(key):
                on = _day(value)
                rows = [m for m in rows if (s := m.date_sent(now)) and keep(s.date(), on)]
        # Newest first by creation: a queued message is listed among the others.
        return sorted(rows, key=lambda m: (m.created, m.arrived), reverse=True)

    def app(self) -> FastAPI:
        app = FastAPI(title="fake Twilio", docs_url=None, redoc_url=None, openapi_url=None)
        app.add_api_route(f"{API}/Messages.json", self.create, methods=["POST"])
        app.add_api_route(f"{API}/Messages.json", self.list_messages, methods=["GET"])
        app.add_api_route(f"{API}/Messages/{{sid}}.json", self.fetch, methods=["GET"])

        async def inspect() -> dict[str, Any]:
            msgs = [
                {"to": m.to, "body": m.body, "sid": m.sid, "arrived": m.arrived}
                for m in self.snapshot()
            ]
            return {"stats": self.stats(), "messages": msgs}

        async def reset() -> dict[str, Any]:
            self.reset()
            return {"ok": True}

        app.add_api_route("/_fake/messages", inspect, methods=["GET"])
        app.add_api_route("/_fake/reset", reset, methods=["POST"])
        return app


def max_in_window(times: list[float], width: float) -> int:
    """The largest number of sorted ``times`` inside any half-open window of ``width``."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@dataclass
class RunningFake:
    fake: FakeTwilio
    base_url: str

    def settings(self, **overrides: Any) -> Settings:
        """Settings that point revisit's Twilio channel at this fake."""
        values: dict[str, Any] = {
            "TWILIO_ACCOUNT_SID": self.fake.config.account_sid,
            "TWILIO_AUTH_TOKEN": self.fake.config.auth_token,
            "TWILIO_FROM": "+15005550006",
            "twilio_base_url": self.base_url,
        }
        values.update(overrides)
        return Settings(**values)

    def env(self) -> dict[str, str]:
        """The same, as environment variables for a subprocess."""
        return {
            "TWILIO_ACCOUNT_SID": self.fake.config.account_sid,
            "TWILIO_AUTH_TOKEN": self.fake.config.auth_token,
            "TWILIO_FROM": "+15005550006",
            "REVISIT_TWILIO_BASE_URL": self.base_url,
        }


@contextmanager
def serve_in_thread(
    make_app: Callable[[str], Any],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    what: str = "the app",
    backlog: int = 2048,
) -> Iterator[str]:
    """Serve ``make_app(base_url)`` with uvicorn in a background thread on ``host`` (port 0:
    a free one); yields the base URL (``http://127.0.0.1:PORT``), which the app may need as
    its own public URL. Raises RuntimeError when the server does not start within 10 s."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        make_app(url), log_level="warning", lifespan="off", timeout_graceful_shutdown=1,
        backlog=backlog,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"{what} did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextmanager
def serve_fake_twilio(
    fake: FakeTwilio | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningFake]:
    """Serve a fake Twilio on a loopback port in a background thread."""
    running = fake or FakeTwilio()
    app = running.app()
    with serve_in_thread(lambda _url: app, host=host, port=port, what="the fake Twilio") as url:
        try:
            yield RunningFake(running, url)
        finally:
            running.stopping = True
