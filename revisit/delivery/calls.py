"""The call channel: call lists for customer-service staff, one CSV and one HTML file per
caller, sorted by priority then due date.

Who calls whom: the customer-service callers (客服 / 招揽专员) in turn (round-robin, in order
of due date) — the campaign's ``callers:`` when it has them, else the store's (the
``callers`` column of the stores file, ``王芳;李娜``). A campaign with
``call_by: last_advisor`` (declined_a: the advisor explains the declined work) gives each
customer to the advisor of their last visit while that advisor still works for the store
(was seen in its visits over the last year), the others to the callers. Customers of a
store without any caller go to the shared ``unassigned`` list.
A campaign for the seeds' important customers (``call_to: service_manager``:
repeat repairs) hands every customer to their store's service manager instead, never
to routine callers; a store with no manager configured gets a
``service_manager_<store>`` list.

The CSV is UTF-8 with a BOM so Excel opens Chinese text correctly; it holds the real phone
number written for reading (``138 0000 0001``; staff dial it) and empty outcome columns to fill
in and import back (``revisit outcome import``); it is written through :mod:`revisit.sheets`, so
no cell can run as a formula and ids stay text. The HTML embeds every customer's call sheet
under an anchor linked from the table, and the outcome codes and reasons in the list's language.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
from sqlmodel import Session, col, select

from revisit.campaigns.outcome_codes import legend
from revisit.db.tables import Customer, Store, Vehicle, Visit
from revisit.dms.phones import format_for_reading
from revisit.rendering import Renderer, plate
from revisit.sheets import write_table

UNASSIGNED = "unassigned"
MANAGER_LIST = "service_manager"
CALLER_WINDOW_DAYS = 365

#: Why we call, per cohort: (zh, en).
REASONS: dict[str, tuple[str, str]] = {
    "first_service_due": ("首保到期", "First service due"),
    "maintenance_due": ("定期保养到期", "Maintenance due"),
    "insurance_renewal": ("保险到期续保", "Insurance renewal"),
    "lapsed_6_12": ("6-12个月未回店", "Not back for 6-12 months"),
    "lapsed_12_24": ("1-2年未回店", "Not back for 1-2 years"),
    "lapsed_24_plus": ("2年以上未回店", "Not back for 2+ years"),
    "declined_a": ("A类增修未做", "Grade A work declined"),
    "declined_b": ("B类增修到期", "Grade B work due"),
    "declined_c": ("C类观察项目", "Grade C items to watch"),
    "post_service_followup": ("三日回访", "Three-day follow-up"),
    "birthday": ("生日关怀", "Birthday greeting"),
    "new_car_7dc": ("新车7日回访", "New car: 7-day call"),
    "new_car_care": ("新车关怀", "New car care"),
    "active_customers": ("客户关怀", "Customer care"),
    "repeat_repair": ("返修客户跟进", "Repeat repair follow-up"),
}

#: CSV columns: key → (zh header, en header). Outcome columns are left for staff to fill.
COLUMNS: dict[str, tuple[str, str]] = {
    "priority": ("优先级", "priority"),
    "contact_id": ("联系编号", "contact_id"),
    "customer_id": ("客户编号", "customer_id"),
    "name": ("客户姓名", "name"),
    "phone": ("手机号", "phone"),
    "vehicles": ("车辆", "vehicles"),
    "reason": ("招揽事由", "purpose"),
    "due_date": ("到期日", "due_date"),
    "last_visit_date": ("上次进厂", "last_visit_date"),
    "last_advisor": ("服务顾问", "last_advisor"),
    "caller": ("跟进人", "caller"),
    # The outcome columns (revisit.outcomes.sheets reads them back).
    "outcome": ("结果", "outcome"),
    "detail": ("原因", "reason"),
    "callback_date": ("回访日期", "callback_date"),
    "note": ("备注", "note"),
}
_SPLIT_CALLERS = re.compile(r"[;；,，、/|]+")


@dataclass
class CallRow:
    """One customer on a call list: their phone (E.164), the vehicles as one line of text,
    why they are called and by when (``due_date``), the caller assigned, the last visit, the
    outbox contact it comes from and the rendered call sheet (HTML)."""

    customer_id: str
    name: str
    phone: str | None
    vehicles: str
    reason: str
    due_date: dt.date | None = None
    priority: int = 0
    caller: str = UNASSIGNED
    store_id: str = ""
    last_visit_date: dt.date | None = None
    last_advisor: str | None = None
    contact_id: int | None = None
    sheet_html: str = ""

    def sort_key(self) -> tuple[Any, ...]:
        """Higher priority first, then the earliest due date (none last), then the id."""
        return (-self.priority, self.due_date is None, self.due_date, self.customer_id)


@dataclass(frozen=True)
class CallListResult:
    """The call lists written (a CSV and an HTML file per caller), rows per caller, and the
    rows themselves."""

    files: list[Path]
    counts: dict[str, int]  # rows per caller
    rows: list[CallRow]


def split_callers(text: str | None) -> list[str]:
    """``"王芳;李娜"`` (or separated by ``,``, ``、``, ``；``) → ``["王芳", "李娜"]``."""
    names = (n.strip() for n in _SPLIT_CALLERS.split(text or ""))
    return list(dict.fromkeys(n for n in names if n))


def configured_callers(session: Session, *, store_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each store's customer-service callers, from the stores file's ``callers`` column."""
    ids = sorted(set(store_ids))
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(Store.store_id, Store.callers).where(
                col(Store.store_id).in_(ids[start : start + 500])
            )
        ).all()
        found.update({store_id: split_callers(callers) for store_id, callers in rows})
    return {store_id: found.get(store_id, []) for store_id in ids}


def store_callers(
    session: Session, *, store_ids: Sequence[str], as_of: dt.date, days: int = CALLER_WINDOW_DAYS
) -> dict[str, list[str]]:
    """The advisors seen in each store's visits during the ``days`` before ``as_of`` (who
    still works there, for ``call_by: last_advisor``)."""
    since = as_of - dt.timedelta(days=days)
    found: dict[str, set[str]] = defaultdict(set)
    ids = sorted(set(store_ids))
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(Customer.store_id, Visit.advisor)
            .join(Vehicle, col(Vehicle.customer_id) == Customer.customer_id)
            .join(Visit, col(Visit.vin) == Vehicle.vin)
            .where(
                col(Customer.store_id).in_(ids[start : start + 500]),
                col(Visit.advisor).is_not(None),
                Visit.date > since,
                Visit.date <= as_of,
            )
            .distinct()
        ).all()
        for store_id, advisor in rows:
            if advisor and advisor.strip():
                found[store_id].add(advisor.strip())
    return {store_id: sorted(found.get(store_id, ())) for store_id in ids}


def assign_callers(
    *,
    contexts: Mapping[str, Mapping[str, Any]],
    callers_by_store: Mapping[str, Sequence[str]],
    callers: Sequence[str] | None = None,
    prefer_advisor: bool = False,
    advisors_by_store: Mapping[str, Sequence[str]] | None = None,
    preset: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """customer_id → caller: ``preset`` first (a callback stays with its caller); with
    ``prefer_advisor``, the last visit's advisor when among the store's advisors
    (``advisors_by_store``, default ``callers_by_store``); else round-robin over ``callers``
    (the campaign's list) or the store's callers, in order of due date; ``unassigned`` when
    a store has nobody."""
    assigned: dict[str, str] = {}
    waiting: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    advisors = callers_by_store if advisors_by_store is None else advisors_by_store
    for cid in sorted(contexts):
        ctx = contexts[cid]
        store_id = ctx["store"]["store_id"]
        advisor = ctx.get("last_advisor")
        if preset and preset.get(cid):
            assigned[cid] = preset[cid]
        elif prefer_advisor and advisor and advisor in advisors.get(store_id, ()):
            assigned[cid] = advisor
        else:
            waiting[store_id].append(ctx)
    for store_id, group in sorted(waiting.items()):
        pool = list(callers) if callers else list(callers_by_store.get(store_id, ()))
        group.sort(key=lambda c: (c.get("due_date") is None, c.get("due_date"), _cid(c)))
        turn = itertools.cycle(pool) if pool else itertools.repeat(UNASSIGNED)
        for ctx in group:
            assigned[_cid(ctx)] = next(turn)
    return assigned


def manager_assignments(
    *, contexts: Mapping[str, Mapping[str, Any]], managers: Mapping[str, str]
) -> dict[str, str]:
    """customer_id → the service manager of the customer's store (``managers``: store id →
    name), or ``service_manager_<store>`` for a store without one."""
    out = {}
    for cid, ctx in contexts.items():
        store_id = str(ctx["store"]["store_id"])
        out[cid] = managers.get(store_id) or f"{MANAGER_LIST}_{store_id}"
    return out


def _cid(ctx: Mapping[str, Any]) -> str:
    return str(ctx["customer"]["customer_id"])


def describe_vehicles(vehicles: Sequence[Mapping[str, Any]]) -> str:
    """闽C·12345 Sedan; 闽C·23456 SUV."""
    parts = [
        " ".join(p for p in (plate(v.get("plate")), v.get("model") or "") if p) for v in vehicles
    ]
    return "; ".join(p or str(v["vin"]) for p, v in zip(parts, vehicles, strict=True))


def reason_of(ctx: Mapping[str, Any], lang: str = "zh") -> str:
    cohort = str(ctx["campaign"]["cohort"])
    labels = REASONS.get(cohort)
    reason = (labels[1] if lang == "en" else labels[0]) if labels else cohort
    items = [i["item"] for i in ctx.get("upsell_items", ())]
    if cohort.startswith("declined_") and items:
        reason += ": " + ("、" if lang == "zh" else ", ").join(items)
    return reason


def build_call_rows(
    *,
    contexts: Mapping[str, Mapping[str, Any]],
    assignments: Mapping[str, str],
    renderer: Renderer | None = None,
    priority: int = 0,
    contact_ids: Mapping[str, int] | None = None,
    templates: Mapping[str, str] | None = None,
    lang: str = "zh",
) -> list[CallRow]:
    """One row per customer; with a renderer, each row carries the customer's call sheet
    (in the customer's language, falling back to zh)."""
    rows = []
    for cid, ctx in sorted(contexts.items()):
        campaign = str(ctx["campaign"]["name"])
        sheet = ""
        if renderer is not None:
            sheet = renderer.render_call_sheet(
                campaign, str(ctx.get("language") or "zh"), ctx, templates=templates
            )
        vehicles = ctx["vehicles"]
        last_visits = [v["last_visit_date"] for v in vehicles if v.get("last_visit_date")]
        rows.append(
            CallRow(
                customer_id=cid,
                name=str(ctx["customer"]["name"]),
                phone=ctx["customer"]["phone"],
                vehicles=describe_vehicles(vehicles),
                reason=reason_of(ctx, lang),
                due_date=ctx.get("due_date"),
                priority=priority,
                caller=assignments.get(cid, UNASSIGNED),
                store_id=str(ctx["store"]["store_id"]),
                last_visit_date=max(last_visits, default=None),
                last_advisor=ctx.get("last_advisor"),
                contact_id=(contact_ids or {}).get(cid),
                sheet_html=sheet,
            )
        )
    return rows


_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def _file_stem(campaign: str, as_of: dt.date, caller: str) -> str:
    return f"{campaign}_{as_of.isoformat()}_{_UNSAFE.sub('_', caller).strip('_') or 'caller'}"


#: Columns Excel must keep as text (ids with leading zeros or 15+ digits).
TEXT_COLUMNS = ("contact_id", "customer_id")


def _csv_value(row: CallRow, key: str) -> str:
    value = getattr(row, key, None)
    if value is None:
        return ""
    if key == "phone":
        return format_for_reading(value)
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _write_csv(path: Path, rows: Sequence[CallRow], lang: str) -> None:
    header = [h[1] if lang == "en" else h[0] for h in COLUMNS.values()]
    texts = [COLUMNS[k][1 if lang == "en" else 0] for k in TEXT_COLUMNS]
    body = ([_csv_value(row, key) for key in COLUMNS] for row in rows)
    write_table(path, header, body, text_columns=texts)


def _free_stem(out_dir: Path, stem: str) -> str:
    """``stem``, or ``stem_2``, ``stem_3``, … : the first whose CSV and HTML do not exist."""
    candidate, n = stem, 1
    while (out_dir / f"{candidate}.csv").exists() or (out_dir / f"{candidate}.html").exists():
        n += 1
        candidate = f"{stem}_{n}"
    return candidate


def write_call_lists(
    *,
    rows: Sequence[CallRow],
    out_dir: Path,
    campaign: str,
    as_of: dt.date,
    lang: str = "zh",
    sheet: Callable[[CallRow], str] | None = None,
) -> list[Path]:
    """One CSV and one HTML call list per caller in ``out_dir`` (created if missing),
    named ``<campaign>_<as_of>_<caller>``; rows sorted by priority then due date. A list is
    never overwritten (a caller may be filling it in): a later list of the same day and
    caller gets ``_2``, ``_3``, … after its name. ``sheet`` renders a row's call sheet when
    its caller's list is written (memory holds one caller's sheets, not every caller's);
    without it, each row's ``sheet_html`` is used."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_caller: dict[str, list[CallRow]] = defaultdict(list)
    for row in rows:
        by_caller[row.caller].append(row)
    files: list[Path] = []
    for caller in sorted(by_caller):
        ordered = sorted(by_caller[caller], key=CallRow.sort_key)
        if sheet is not None:
            ordered = [replace(r, sheet_html=sheet(r)) for r in ordered]
        stem = _free_stem(out_dir, _file_stem(campaign, as_of, caller))
        csv_path, html_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.html"
        _write_csv(csv_path, ordered, lang)
        html_path.write_text(
            _render_html(ordered, campaign=campaign, as_of=as_of, caller=caller, lang=lang),
            encoding="utf-8",
        )
        files += [csv_path, html_path]
    return files


_HTML = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ campaign }} · {{ as_of }} · {{ caller }}</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em;}
table{border-collapse:collapse;}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;}
.call-sheet{border-top:2px solid #333;margin-top:2em;padding-top:1em;}
</style></head><body>
<h1>{{ campaign }} · {{ as_of }} · {{ caller }}({{ rows|length }})</h1>
<table class="call-list">
<tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in rows %}
<tr><td>{{ loop.index }}</td><td>{{ r.priority }}</td>
<td><a href="#sheet-{{ r.customer_id }}">{{ r.name }}</a></td>
<td><a href="tel:{{ r.phone or '' }}">{{ r.phone or '' }}</a></td>
<td>{{ r.vehicles }}</td><td>{{ r.reason }}</td><td>{{ r.due_date or '' }}</td>
<td>{{ r.last_visit_date or '' }}</td><td>{{ r.last_advisor or '' }}</td></tr>
{% endfor %}
</table>
<section class="outcome-codes"><h2>{{ legend_title }}</h2><ul>
{% for code, details in legend.items() %}
<li>{{ code }}{% if details %}:{{ details|join("、" if lang == "zh" else ", ") }}{% endif %}</li>
{% endfor %}
</ul></section>
{% for r in rows %}
{% if r.sheet_html %}
{{ r.sheet_html|safe }}
{% else %}
<section class="call-sheet" id="sheet-{{ r.customer_id }}"><h2>{{ r.name }}</h2></section>
{% endif %}
{% endfor %}
</body></html>
"""
)

_HTML_HEADERS = {
    "zh": ["#", "优先级", "客户", "电话", "车辆", "原因", "到期日", "上次进厂", "服务顾问"],
    "en": [
        "#",
        "Priority",
        "Customer",
        "Phone",
        "Vehicles",
        "Reason",
        "Due",
        "Last visit",
        "Advisor",
    ],
}


def _render_html(
    rows: Sequence[CallRow], *, campaign: str, as_of: dt.date, caller: str, lang: str
) -> str:
    lang = "en" if lang == "en" else "zh"
    title = (
        "Outcome codes (结果 / 原因)" if lang == "en" else "结果与原因(填入 CSV 的 结果、原因 列)"
    )
    return _HTML.render(
        rows=rows, campaign=campaign, as_of=as_of, caller=caller, lang=lang,
        headers=_HTML_HEADERS[lang], legend=legend(lang), legend_title=title,
    )  # fmt: skip


class SheetSpool:
    """Rendered call sheets kept in a temporary file (customer id → its sheet), so that a
    run's lists hold one caller's sheets in memory at a time, whatever their number."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        self._where: dict[str, tuple[int, int]] = {}

    def put(self, customer_id: str, sheet: str) -> None:
        data = sheet.encode("utf-8")
        self._file.seek(0, 2)
        self._where[customer_id] = (self._file.tell(), len(data))
        self._file.write(data)

    def get(self, customer_id: str) -> str:
        """The sheet of ``customer_id`` ("" when none was put)."""
        if customer_id not in self._where:
            return ""
        offset, size = self._where[customer_id]
        self._file.seek(offset)
        return self._file.read(size).decode("utf-8")

    def __enter__(self) -> SheetSpool:
        return self

    def __exit__(self, *_: object) -> None:
        self._file.close()


def _assignment_facts(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """What assigning a caller reads of a render context (:func:`assign_callers`)."""
    return {
        "customer": {"customer_id": _cid(ctx)},
        "store": {"store_id": ctx["store"]["store_id"]},
        "last_advisor": ctx.get("last_advisor"),
        "due_date": ctx.get("due_date"),
    }


def produce_call_lists(
    session: Session,
    *,
    renderer: Renderer,
    contexts: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Mapping[str, Any]]],
    out_dir: Path,
    campaign: str,
    as_of: dt.date,
    priority: int = 0,
    callers: Sequence[str] | None = None,
    prefer_advisor: bool = False,
    preset: Mapping[str, str] | None = None,
    contact_ids: Mapping[str, int] | None = None,
    templates: Mapping[str, str] | None = None,
    lang: str = "zh",
    managers: Mapping[str, str] | None = None,
) -> CallListResult:
    """Render every call sheet once, assign callers and write the lists (see the module
    doc); the rows returned carry no sheet. ``contexts`` is customer id → render context,
    or an iterable of such batches (a run's: each batch is dropped once its sheets are
    rendered into a :class:`SheetSpool`, so memory holds one batch's contexts). A sheet
    that fails raises before any list is written. With ``managers`` (store id → service
    manager) every customer goes to their store's manager, as :func:`manager_assignments`
    says (a ``preset`` caller still comes first)."""
    batches = [contexts] if isinstance(contexts, Mapping) else contexts
    with SheetSpool() as spool:
        facts: dict[str, dict[str, Any]] = {}
        rows: list[CallRow] = []
        for batch in batches:
            for cid, ctx in sorted(batch.items()):
                language = str(ctx.get("language") or "zh")
                spool.put(cid, renderer.render_call_sheet(campaign, language, ctx,
                                                          templates=templates))  # fmt: skip
                facts[cid] = _assignment_facts(ctx)
            rows += build_call_rows(contexts=batch, assignments={}, priority=priority,
                                    contact_ids=contact_ids, lang=lang)  # fmt: skip
        assignments = _assign(session, facts, as_of=as_of, callers=callers,
                              prefer_advisor=prefer_advisor, preset=preset,
                              managers=managers)  # fmt: skip
        rows = sorted(
            (replace(r, caller=assignments.get(r.customer_id, UNASSIGNED)) for r in rows),
            key=lambda r: r.customer_id,
        )
        files = write_call_lists(
            rows=rows, out_dir=out_dir, campaign=campaign, as_of=as_of, lang=lang,
            sheet=lambda r: spool.get(r.customer_id),
        )  # fmt: skip
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.caller] += 1
    return CallListResult(files=files, counts=dict(sorted(counts.items())), rows=rows)


def _assign(
    session: Session,
    facts: Mapping[str, Mapping[str, Any]],
    *,
    as_of: dt.date,
    callers: Sequence[str] | None,
    prefer_advisor: bool,
    preset: Mapping[str, str] | None,
    managers: Mapping[str, str] | None,
) -> dict[str, str]:
    """customer id → caller or manager (see :func:`produce_call_lists`)."""
    store_ids = sorted({str(c["store"]["store_id"]) for c in facts.values()})
    if managers is not None:
        assignments = manager_assignments(contexts=facts, managers=managers)
        return assignments | {
            cid: who for cid, who in (preset or {}).items() if who and cid in facts
        }
    by_store = configured_callers(session, store_ids=store_ids)
    advisors = store_callers(session, store_ids=store_ids, as_of=as_of) if prefer_advisor else {}
    return assign_callers(
        contexts=facts, callers_by_store=by_store, callers=callers,
        prefer_advisor=prefer_advisor, advisors_by_store=advisors, preset=preset,
    )  # fmt: skip
