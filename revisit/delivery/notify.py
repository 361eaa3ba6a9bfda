"""Staff notification by webhook: a WeCom (企业微信) or DingTalk (钉钉) group robot message
in "markdown" style, posted when a call list is ready (:func:`notify_staff`) or a
dissatisfied-customer ticket is opened (:func:`post_markdown`, with the text of
:mod:`revisit.outcomes.tickets`).

The webhook's address carries its secret (``key=`` / ``access_token=``), so errors name the
host and path only. Failures raise :class:`WebhookError`; nothing is swallowed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from revisit.errors import RevisitError

DEFAULT_TIMEOUT = 10.0
Style = Literal["wecom", "dingtalk"]


class WebhookError(RevisitError):
    """The staff webhook refused or failed the notification."""


def redact_url(url: str) -> str:
    """The address without its query (where the robot's key lives)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def detect_style(url: str) -> Style:
    return "dingtalk" if "dingtalk" in urlsplit(url).netloc else "wecom"


def call_list_markdown(
    *,
    campaign: str,
    as_of: dt.date,
    files: Sequence[Path],
    counts: Mapping[str, int],
    lang: str = "zh",
) -> tuple[str, str]:
    """(title, markdown text) announcing the call lists of a campaign."""
    total = sum(counts.values())
    if lang == "en":
        title = f"Call list ready: {campaign}"
        lines = [f"### {title}", f"> Date: {as_of.isoformat()}", f"> Customers: **{total}**", ""]
        lines += [f"- {caller}: {n}" for caller, n in counts.items()]
        lines += ["", "Files: " + ", ".join(p.name for p in files)]
    else:
        title = f"招揽名单已生成:{campaign}"
        lines = [f"### {title}", f"> 日期:{as_of.isoformat()}", f"> 客户数:**{total}**", ""]
        lines += [f"- {caller}:{n} 位" for caller, n in counts.items()]
        lines += ["", "文件:" + "、".join(p.name for p in files)]
    return title, "\n".join(lines)


def _payload(style: Style, title: str, text: str) -> dict[str, Any]:
    if style == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


def notify_staff(
    url: str,
    *,
    campaign: str,
    as_of: dt.date,
    files: Sequence[Path],
    counts: Mapping[str, int],
    client: httpx.Client,
    style: Style | None = None,
    lang: str = "zh",
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """POST the call-list announcement to the staff chat webhook and return its JSON answer
    (see :func:`post_markdown` for the errors raised)."""
    title, text = call_list_markdown(
        campaign=campaign, as_of=as_of, files=files, counts=counts, lang=lang
    )
    return post_markdown(url, title=title, text=text, client=client, style=style,
                         timeout=timeout)  # fmt: skip


def post_markdown(
    url: str,
    *,
    title: str,
    text: str,
    client: httpx.Client,
    style: Style | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """POST one markdown message (``title``, ``text``) to the staff chat webhook and return
    its JSON answer. Raises WebhookError on a network error, an HTTP error status, or a
    robot's non-zero ``errcode`` (both services answer 200 with an error code)."""
    payload = _payload(style or detect_style(url), title, text)
    where = redact_url(url)
    try:
        response = client.post(url, json=payload, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise WebhookError(
            f"staff webhook {where} answered {exc.response.status_code}; "
            "check the webhook address in REVISIT_STAFF_WEBHOOK_URL"
        ) from exc
    except httpx.HTTPError as exc:
        raise WebhookError(f"staff webhook {where} failed: {type(exc).__name__}") from exc
    try:
        answer = response.json() if response.content else {}
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("errcode", 0) not in (0, "0"):
        raise WebhookError(
            f"staff webhook {where} refused the message: "
            f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}"
        )
    return answer if isinstance(answer, dict) else {}
