"""The manager's dashboard as HTML, from :func:`revisit.reports.dashboard.dashboard_data`.

One Jinja template (``_dashboard.html.j2``, zh or en, a phone's width or a desk's) renders
the tables; the charts are drawn by Apache ECharts from a JSON island
(``<script type="application/json" id="rv-dashboard-data">``) that our ``dashboard.js`` reads,
so no page carries an inline script and the app can keep ``script-src 'self'``. Every table
has a button that downloads it as CSV (built in the browser from the island's raw values,
:meth:`revisit.reports.page.tables.Table.csv`; formula cells neutralised as
:mod:`revisit.sheets` does).

- :func:`render_dashboard_file`: one self-contained page (``revisit report --format html``):
  ECharts, our script and stylesheet inlined; it requests nothing, from anywhere.
- :func:`render_dashboard_fragment`: the dashboard for a page of the app's layout, linking
  the files of :func:`static_files` under the app's static URL.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from revisit.errors import ConfigError
from revisit.reports.page.labels import LANGUAGES, labels
from revisit.reports.page.tables import tables

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = HERE.parents[2]
ECHARTS_FILE = "echarts.min.js"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


def echarts_path(configured: Path) -> Path:
    """The ECharts script: ``configured`` (``REVISIT_ECHARTS_JS``) if it exists, else, for a
    relative path, the same path in the source checkout. Raises ConfigError naming where it
    looked and how to install it."""
    candidates = [configured]
    if not configured.is_absolute():
        candidates.append(SOURCE_ROOT / configured)
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(
        f"ECharts not found at {' or '.join(str(p) for p in candidates)}: run `make install` "
        "(npm ci installs it) or set REVISIT_ECHARTS_JS to an echarts.min.js"
    )


def static_files(echarts_js: Path) -> dict[str, Path]:
    """The files the app serves under its static URL for the dashboard: name → path
    (``echarts.min.js``, ``dashboard.js``, ``dashboard.css``). Raises ConfigError when
    ECharts is not installed (:func:`echarts_path`)."""
    return {
        ECHARTS_FILE: echarts_path(echarts_js),
        "dashboard.js": HERE / "dashboard.js",
        "dashboard.css": HERE / "dashboard.css",
    }


def island(
    data: dict[str, Any],
    lang: str,
    words: dict[str, str] | None = None,
    csv: dict[str, dict[str, Any]] | None = None,
) -> Markup:
    """The JSON island's text: the dashboard data, the words of ``lang`` (``words``, else
    :func:`labels`) and each table's CSV download by table id (``csv``, from
    :meth:`revisit.reports.page.tables.Table.csv`), with ``<``, ``>`` and ``&`` escaped so
    that no value can close the script element."""
    words = labels(lang) if words is None else words
    content = {"lang": lang, "labels": words, "data": data, "csv": csv or {}}
    text = json.dumps(content, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _inline_script(source: str) -> Markup:
    """A script's source for an inline ``<script>`` element: ``</script`` never ends it."""
    return Markup(_SCRIPT_END.sub(r"<\\/\1", source))


def _context(
    data: dict[str, Any], lang: str, names: Mapping[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    if lang not in LANGUAGES:
        raise ValueError(f"lang: unknown language {lang!r}; use {', '.join(LANGUAGES)}")
    words = labels(lang, names)
    shown = tables(data, words)
    csv = {id_: table.csv() for id_, table in shown.items()}
    return {"lang": lang, "t": words, "data": data, "tables": shown,
            "island": island(data, lang, words, csv), **extra}  # fmt: skip


def render_dashboard_fragment(
    data: dict[str, Any],
    *,
    lang: str = "zh",
    static_url: str = "/static",
    choices: dict[str, Sequence[str]] | None = None,
    campaign_names: Mapping[str, str] | None = None,
    problems: Sequence[str] = (),
) -> Markup:
    """The dashboard as an HTML fragment for a page of the app (``lang``: zh or en), its
    stylesheet and scripts linked from ``static_url`` (where :func:`static_files` are
    served). With ``choices`` (``{"stores": [...], "campaigns": [...]}``, the stores the user
    may see) it carries a GET filter form (fields ``store`` (repeated), ``campaign``,
    ``since``, ``until``, ``period``). ``campaign_names`` (name → display name, from the
    campaign files) shows campaigns by the names people read. ``problems`` (what is wrong
    with the filters, in ``lang``) are shown above the form. Raises ValueError for another
    language."""
    context = _context(data, lang, campaign_names, static_url=static_url.rstrip("/"),
                       choices=choices, inline=None, problems=list(problems))  # fmt: skip
    return Markup(_ENV.get_template("_dashboard.html.j2").render(context))


def render_dashboard_file(
    data: dict[str, Any],
    *,
    lang: str = "zh",
    echarts_js: Path,
    generated: dt.datetime,
    campaign_names: Mapping[str, str] | None = None,
) -> str:
    """The dashboard as one self-contained HTML page (``lang``: zh or en) with ECharts
    (``echarts_js``, see :func:`echarts_path`), our script and stylesheet inlined: opened
    from a file it requests nothing. ``generated`` is printed under the title;
    ``campaign_names`` as in :func:`render_dashboard_fragment`. Raises ConfigError when
    ECharts is missing, ValueError for another language."""
    inline = {
        "echarts": _inline_script(echarts_path(echarts_js).read_text(encoding="utf-8")),
        "script": _inline_script((HERE / "dashboard.js").read_text(encoding="utf-8")),
        "style": Markup((HERE / "dashboard.css").read_text(encoding="utf-8")),
    }
    context = _context(data, lang, campaign_names, static_url="", choices=None, inline=inline,
                       problems=[], generated=generated.isoformat(timespec="minutes"))  # fmt: skip
    return _ENV.get_template("dashboard.html.j2").render(context)
