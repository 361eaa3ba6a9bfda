"""The call channel: who calls whom, the call-list files, and the staff webhook."""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from revisit.delivery.calls import (
    UNASSIGNED,
    CallRow,
    assign_callers,
    produce_call_lists,
    split_callers,
    store_callers,
    write_call_lists,
)
from revisit.delivery.notify import WebhookError, notify_staff
from revisit.rendering import MemberRef, Renderer, load_contexts
from tests.factories import make_customer, make_store, make_vehicle, make_visit

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
AS_OF = dt.date(2026, 11, 10)


def _ctx(cid: str, store: str = "S1", advisor: str | None = None, due: Any = None) -> Any:
    return {
        "customer": {"customer_id": cid},
        "store": {"store_id": store},
        "last_advisor": advisor,
        "due_date": due,
    }


# --- assignment -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contexts", "callers_by_store", "callers", "prefer_advisor", "expected"),
    [
        # the last visit's advisor, when the store still has them
        ([_ctx("C1", advisor="李娜")], {"S1": ["李娜", "陈明"]}, None, True, {"C1": "李娜"}),
        # an advisor who left the store: round-robin instead
        ([_ctx("C1", advisor="老王")], {"S1": ["李娜", "陈明"]}, None, True, {"C1": "李娜"}),
        # round-robin in order of due date, callers in the order given
        (
            [
                _ctx("C1", due=dt.date(2026, 11, 30)),
                _ctx("C2", due=dt.date(2026, 11, 12)),
                _ctx("C3"),
                _ctx("C4", due=dt.date(2026, 11, 20)),
            ],
            {"S1": ["A", "B"]},
            None,
            True,
            {"C2": "A", "C4": "B", "C1": "A", "C3": "B"},
        ),
        # the campaign's own callers replace the store's for the round-robin
        (
            [_ctx("C1", advisor="李娜"), _ctx("C2")],
            {"S1": ["李娜"]},
            ["客服小张"],
            True,
            {"C1": "李娜", "C2": "客服小张"},
        ),
        (
            [_ctx("C1", advisor="李娜"), _ctx("C2")],
            {"S1": ["李娜"]},
            ["客服小张"],
            False,
            {"C1": "客服小张", "C2": "客服小张"},
        ),
        # stores are served by their own callers; a store without any goes unassigned
        (
            [_ctx("C1", store="S1"), _ctx("C2", store="S2"), _ctx("C3", store="S3")],
            {"S1": ["A"], "S2": ["B"], "S3": []},
            None,
            True,
            {"C1": "A", "C2": "B", "C3": UNASSIGNED},
        ),
    ],
)
def test_assign_callers(
    contexts: list[Any],
    callers_by_store: dict[str, list[str]],
    callers: list[str] | None,
    prefer_advisor: bool,
    expected: dict[str, str],
) -> None:
    by_id = {c["customer"]["customer_id"]: c for c in contexts}
    assert (
        assign_callers(
            contexts=by_id,
            callers_by_store=callers_by_store,
            callers=callers,
            prefer_advisor=prefer_advisor,
        )
        == expected
    )


def test_store_callers_are_recent_advisors_of_the_store(engine: Any) -> None:
    with Session(engine) as s:
        north, south = make_store(s), make_store(s)
        car = make_vehicle(s, customer=make_customer(s, store_id=north.store_id))
        make_visit(s, vehicle=car, date=dt.date(2026, 10, 1), advisor="李娜")
        make_visit(s, vehicle=car, date=dt.date(2026, 9, 1), advisor=" 陈明 ")
        make_visit(s, vehicle=car, date=dt.date(2026, 8, 1), advisor="李娜")
        make_visit(s, vehicle=car, date=dt.date(2025, 1, 1), advisor="离职的")  # over a year ago
        make_visit(s, vehicle=car, date=dt.date(2026, 12, 1), advisor="未来的")  # after as_of
        make_visit(s, vehicle=car, date=dt.date(2026, 7, 1), advisor=None)
        other = make_vehicle(s, customer=make_customer(s, store_id=south.store_id))
        make_visit(s, vehicle=other, date=dt.date(2026, 10, 1), advisor="周强")
        s.commit()
        found = store_callers(s, store_ids=[north.store_id, south.store_id, "S-none"], as_of=AS_OF)
    assert found == {north.store_id: ["李娜", "陈明"], south.store_id: ["周强"], "S-none": []}


# --- call-list files --------------------------------------------------------------------------


def _row(cid: str, caller: str, priority: int, due: dt.date | None, **kw: Any) -> CallRow:
    values: dict[str, Any] = {
        "customer_id": cid,
        "name": f"客户{cid}",
        "phone": "+8613912345678",
        "vehicles": "闽A·12345 帕萨特",
        "reason": "定期保养到期",
        "due_date": due,
        "priority": priority,
        "caller": caller,
    }
    values.update(kw)
    return CallRow(**values)


def test_write_call_lists_one_csv_and_html_per_caller_sorted(tmp_path: Path) -> None:
    sheet = '<section id="sheet-C5">话术</section>'
    rows = [
        _row("C1", "李娜", 10, dt.date(2026, 11, 20)),
        _row("C2", "李娜", 50, None),
        _row("C3", "李娜", 50, dt.date(2026, 11, 15)),
        _row("C4", "陈明", 10, dt.date(2026, 11, 12), name="<b>赵</b>"),
        _row("C5", "李娜", 10, dt.date(2026, 11, 11), sheet_html=sheet),
    ]
    files = write_call_lists(
        rows=rows, out_dir=tmp_path / "calls", campaign="maintenance_due", as_of=AS_OF
    )
    names = [p.name for p in files]
    assert names == [
        "maintenance_due_2026-11-10_李娜.csv",
        "maintenance_due_2026-11-10_李娜.html",
        "maintenance_due_2026-11-10_陈明.csv",
        "maintenance_due_2026-11-10_陈明.html",
    ]
    raw = files[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    table = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert [r["客户编号"] for r in table] == ["C3", "C2", "C5", "C1"]
    # Staff dial the real number, written for reading (and kept as text by Excel).
    assert table[0]["手机号"] == "139 1234 5678"
    assert table[0]["到期日"] == "2026-11-15" and table[1]["到期日"] == ""
    assert table[0]["结果"] == "" and "回访日期" in table[0] and "原因" in table[0]
    html = files[1].read_text(encoding="utf-8")
    assert html.index("客户C3") < html.index("客户C2") < html.index("客户C5")
    assert 'href="#sheet-C5"' in html and '<section id="sheet-C5">话术</section>' in html
    assert 'href="tel:+8613912345678"' in html
    other = files[3].read_text(encoding="utf-8")
    assert "&lt;b&gt;赵&lt;/b&gt;" in other and "<b>赵</b>" not in other


def _followup_calls(engine: Any, tmp_path: Path, **kw: Any) -> Any:
    with Session(engine) as s:
        store = make_store(s, name="福州闽运大众4S店", phone="0591-87654321", callers="王芳;张伟")
        members = []
        for n, advisor in enumerate(["李娜", "李娜", None, None, "陈明"]):
            customer = make_customer(s, store_id=store.store_id, name=f"客户{n}")
            car = make_vehicle(s, customer=customer, purchase_date=dt.date(2024, 1, 1))
            make_visit(s, vehicle=car, date=dt.date(2026, 11, 8), advisor=advisor)
            members.append(MemberRef(customer.customer_id, [car.vin]))
        s.commit()
        contexts = load_contexts(
            s,
            campaign_name="post_service_followup",
            cohort="post_service_followup",
            channel="call",
            as_of=AS_OF,
            members=members,
        )
        return produce_call_lists(
            s,
            renderer=Renderer(TEMPLATES),
            contexts=contexts,
            out_dir=tmp_path,
            campaign="post_service_followup",
            as_of=AS_OF,
            priority=90,
            **kw,
        )


def test_call_lists_go_to_the_stores_callers(engine: Any, tmp_path: Path) -> None:
    result = _followup_calls(engine, tmp_path)
    assert result.counts == {"张伟": 2, "王芳": 3}
    assert len(result.files) == 4 and all(p.exists() for p in result.files)
    html = next(p for p in result.files if p.name.endswith("王芳.html")).read_text("utf-8")
    assert html.count('class="call-sheet"') == 3 and "三日回访" in html
    # outcome codes and reasons in the list's language
    assert "已预约" in html and "空号错号" in html and "亲友修理厂" in html


def test_the_campaigns_callers_replace_the_stores(engine: Any, tmp_path: Path) -> None:
    result = _followup_calls(engine, tmp_path, callers=["赵敏"], lang="en")
    assert result.counts == {"赵敏": 5}
    html = next(p for p in result.files if p.name.endswith(".html")).read_text("utf-8")
    assert "wrong number" in html and "relative&#39;s garage" in html


def test_last_advisor_where_the_campaign_says_so(engine: Any, tmp_path: Path) -> None:
    result = _followup_calls(engine, tmp_path, prefer_advisor=True)
    # advisors keep their customers; the others go to the store's callers in turn
    assert result.counts == {"张伟": 1, "李娜": 2, "王芳": 1, "陈明": 1}


def test_split_callers() -> None:
    assert split_callers("王芳;李娜") == ["王芳", "李娜"]
    assert split_callers(" 王芳 ， 李娜、王芳;; ") == ["王芳", "李娜"]
    assert split_callers(None) == []


# --- the staff webhook ------------------------------------------------------------------------


def _notify(url: str, client: httpx.Client, **kw: Any) -> dict[str, Any]:
    return notify_staff(
        url,
        campaign="declined_a",
        as_of=AS_OF,
        files=[Path("declined_a_2026-11-10_李娜.csv"), Path("declined_a_2026-11-10_李娜.html")],
        counts={"李娜": 12, "陈明": 3},
        client=client,
        **kw,
    )


def test_webhook_posts_a_wecom_markdown_message() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET"
        assert _notify(url, client) == {"errcode": 0, "errmsg": "ok"}
    (request,) = seen
    assert request.method == "POST" and request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert "declined_a" in content and "2026-11-10" in content and "**15**" in content
    assert "- 李娜:12 位" in content and "declined_a_2026-11-10_李娜.csv" in content
    assert request.extensions["timeout"]["read"] == 10.0


def test_webhook_posts_dingtalk_style_to_a_local_server() -> None:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            answer = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    with _serve(Handler) as base, httpx.Client() as client:
        _notify(f"{base}/robot/send?access_token=T", client, style="dingtalk", lang="en")
    (body,) = received
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "Call list ready: declined_a"
    assert "- 李娜: 12" in body["markdown"]["text"]


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(500, text="boom"), "answered 500"),
        (httpx.Response(200, json={"errcode": 93000, "errmsg": "invalid webhook url"}), "93000"),
    ],
)
def test_webhook_failure_is_reported(response: httpx.Response, match: str) -> None:
    transport = httpx.MockTransport(lambda request: response)
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET"
    with httpx.Client(transport=transport) as client, pytest.raises(WebhookError, match=match) as e:
        _notify(url, client)
    assert "SECRET" not in str(e.value)


def test_webhook_network_error_is_reported() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    url = "https://oapi.dingtalk.com/robot/send?access_token=SECRET"
    transport = httpx.MockTransport(refuse)
    with httpx.Client(transport=transport) as client, pytest.raises(WebhookError) as err:
        _notify(url, client)
    assert "ConnectError" in str(err.value)
    assert "SECRET" not in str(err.value) and "oapi.dingtalk.com/robot/send" in str(err.value)


class _serve:
    """A real HTTP server on loopback, for the length of a with-block."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = HTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_store_callers_come_from_the_stores_file(engine: Any, tmp_path: Path) -> None:
    from revisit.delivery.calls import configured_callers
    from revisit.dms.importing import import_paths

    path = tmp_path / "门店.csv"
    path.write_text("门店编号,门店名称,客服\nQZ,泉州店,王芳;李娜\nXM,厦门店,\n", encoding="utf-8")
    report = import_paths(engine, [path], region="CN")
    assert report.rejected == 0
    with Session(engine) as s:
        found = configured_callers(s, store_ids=["QZ", "XM", "nowhere"])
    assert found == {"QZ": ["王芳", "李娜"], "XM": [], "nowhere": []}
