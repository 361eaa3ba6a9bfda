"""The pages' words in zh and en, and which language a request gets: the user's own
(``revisit user add --language``), else the browser's ``Accept-Language``, else zh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from revisit.campaigns.labels import ANY, pick
from revisit.errors import RevisitError

LANGUAGES = ("zh", "en")

#: key → (zh, en)
WORDS: dict[str, tuple[str, str]] = {
    "app": ("回厂招揽", "revisit"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "name": ("姓名", "Name"),
    "password": ("密码", "Password"),
    "wrong_password": ("姓名或密码不正确。", "Wrong name or password."),
    "too_many": (
        "尝试次数过多,请于 {at} 后再试(约 {minutes} 分钟)。",
        "Too many tries: try again after {at} (in about {minutes} minutes).",
    ),
    "change_password": ("修改密码", "Change password"),
    "must_change": ("首次登录请设置自己的密码。", "Choose your own password to go on."),
    "current_password": ("当前密码", "Current password"),
    "new_password": ("新密码(至少 10 位)", "New password (10 characters or more)"),
    "repeat_password": ("再次输入新密码", "New password again"),
    "save": ("保存", "Save"),
    "password_saved": ("密码已修改。", "Password changed."),
    "todays_calls": ("今日待拨", "Today's calls"),
    "no_calls": ("今天没有待拨的客户。", "No calls waiting today."),
    "customer": ("客户", "Customer"),
    "phone": ("电话", "Phone"),
    "campaign": ("活动", "Campaign"),
    "reason": ("原因", "Reason"),
    "due": ("到期日", "Due"),
    "day": ("日期", "Day"),
    "priority": ("优先级", "Priority"),
    "open": ("打开", "Open"),
    "outcome": ("结果", "Outcome"),
    "detail": ("原因 / 类别", "Reason / category"),
    "callback_date": ("回访日期", "Callback date"),
    "note": ("备注", "Note"),
    "save_next": ("保存并打开下一位", "Save and open the next"),
    "saved": ("已保存:{what}", "Saved: {what}"),
    "already_saved": ("此结果已记录过:{what}", "Already recorded: {what}"),
    "history": ("联系记录", "Contact history"),
    "inbox": ("客户回复", "Replies"),
    "no_replies": ("没有回复。", "No replies."),
    "status": ("状态", "Status"),
    "when": ("时间", "When"),
    "by": ("记录人", "By"),
    "campaigns": ("活动", "Campaigns"),
    "targeted": ("目标", "Targeted"),
    "excluded": ("排除", "Excluded"),
    "suppressed": ("让位", "Suppressed"),
    "holdout": ("对照组", "Holdout"),
    "to_contact": ("待联系", "To contact"),
    "channel": ("渠道", "Channel"),
    "preview": ("预览", "Preview"),
    "launch": ("发起", "Launch"),
    "confirm_launch": ("确认发起", "Confirm the launch"),
    "launch_for": ("发起日期", "Launch for"),
    "samples": ("示例", "Samples"),
    "by_reason": ("按原因", "By reason"),
    "not_yours": (
        "此活动涉及您负责范围以外的门店,请管理员发起。",
        "This campaign covers stores outside yours: an admin launches it.",
    ),
    "launch_day": ("发起日期(时区 {tz})", "Day (time zone {tz})"),
    "will_send_sms": (
        "将向 {n} 位客户发送短信,仅在发送时段 {start}–{end} 内发出。",
        "{n} SMS will be sent, only inside the send window {start}–{end}.",
    ),
    "sms_console": (
        "不会发到客户手机 — 短信写入 {dir}(未配置短信服务商)。",
        "Not sent to phones — written to {dir} (no SMS provider set up).",
    ),
    "will_list_calls": (
        "将生成 {n} 条电话任务,进入回访员的今日待拨。",
        "{n} call entries will go to the callers' lists of today's calls.",
    ),
    "nothing_to_contact": (
        "没有待联系的客户:发起只记录这次执行。",
        "No one to contact: the launch records the run only.",
    ),
    "runs_on_only": ("仅在 {first} 执行", "runs on {first} only"),
    "runs_between": ("仅在 {first} 至 {last} 期间执行", "runs from {first} to {last} only"),
    "run_days_one": (
        "{campaign} 仅在 {first} 当天执行,不能为 {as_of} 发起。",
        "{campaign} runs on {first} only; it cannot be launched for {as_of}.",
    ),
    "run_days_range": (
        "{campaign} 仅在 {first} 至 {last} 期间执行,不能为 {as_of} 发起。",
        "{campaign} runs from {first} to {last} only; it cannot be launched for {as_of}.",
    ),
    "past_day": (
        "{as_of} 已经过去(今天是 {today}),不能发起:过去日期的计划看不到今天已发出的短信,"
        "内容也已过时,客户会收到错误的信息。只能为今天发起。",
        "{as_of} is a past day (today is {today}) and cannot be launched: its plan cannot see "
        "what today's runs send, and its texts would reach customers out of date. Launch for "
        "today.",
    ),
    "future_day": (
        "{as_of} 尚未到来(今天是 {today}):现在只能预览,请在当天发起。",
        "{as_of} is a later day (today is {today}): preview it now, launch it on that day.",
    ),
    "prefect_unavailable": (
        "无法通过 Prefect 发起({deployment}):服务器无法连接或没有这个部署,详情见日志。",
        "The launch could not go through Prefect ({deployment}): the server cannot be reached "
        "or has no such deployment; the detail is logged.",
    ),
    "failed_with": ("发起失败:{what}", "The launch failed: {what}"),
    "flow_run": ("Prefect 流程", "Prefect flow run"),
    "run": ("执行", "Run"),
    "runs": ("执行记录", "Runs"),
    "progress": ("进度", "Progress"),
    "starting": ("正在开始…", "Starting…"),
    "pause": ("暂停", "Pause"),
    "resume": ("继续", "Resume"),
    "dashboard": ("看板", "Dashboard"),
    "not_found": ("页面不存在。", "This page does not exist."),
    "cannot_do": (
        "无法完成,请把下面这行告诉管理员:",
        "This cannot be done; tell your admin this line:",
    ),
    "forbidden": ("您无权访问此页面。", "You may not open this page."),
    "error": ("出错了,已记录,请稍后再试。", "Something went wrong; it is logged. Try again later."),
    "bad_request": ("请求无效,请返回重试。", "The request was not valid: go back and try again."),
    "too_large": ("提交的内容过大。", "What was sent is too large."),
    "csrf": (
        "页面已过期,请返回刷新后重试。",
        "The page has expired: go back, reload and try again.",
    ),
    "not_configured": (
        "登录尚未配置:请设置 REVISIT_SECRET_KEY。",
        "Sign-in is not configured: set REVISIT_SECRET_KEY.",
    ),
    "home": ("首页", "Home"),
    "sms_length": ("计 {segments} 条短信({encoding} 编码)", "{segments} segment(s), {encoding}"),
    "sheet_length": ("通话脚本共 {characters} 字", "a call sheet of {characters} characters"),
    "field_problem": ("{field}填写有误:{what}", "{field}: {what}"),
    # what an outcome form's field may be wrong about (revisit.outcomes.calls.FieldProblem)
    "problem:outcome": ("请选择一个有效的结果。", "Choose a valid outcome."),
    "problem:reason": (
        "原因与结果不符:未接通选未接通原因,拒绝选拒绝原因,不满意选不满意类别,其他结果不填原因。",
        "The reason does not fit the outcome: not reached takes why, declined a decline "
        "reason, dissatisfied a category; other outcomes take none.",
    ),
    "problem:callback_date": (
        "回访日期:选“再联系”时必填,须是今天或以后的日期;其他结果不填。",
        "Callback date: needed with call back, today or later; other outcomes take none.",
    ),
    "problem:note": (
        "客户不满意时,请在备注中记下客户的原话。",
        "A dissatisfied call needs the customer's words in the note.",
    ),
    "problem:contact_id": (
        "这位客户不在您的待拨名单上。",
        "This customer is not on your call list.",
    ),
    "problem:already_recorded": (
        "这位客户已记录过结果(见上方);如需更正,请在已记录的结果中修改。",
        "An outcome is already recorded for this customer: amend it instead.",
    ),
    "problem:recorded_meanwhile": (
        "刚才已有人记录了新的结果,请先查看再修改。",
        "Another outcome was recorded meanwhile: check it first.",
    ),
    "problem:nothing_to_amend": (
        "这位客户还没有记录结果,请直接记录。",
        "No outcome is recorded for this customer yet: record one.",
    ),
    "problem:current_password": ("当前密码不正确。", "current password: wrong"),
    "problem:new_password_short": ("新密码至少 10 位。", "new password: at least 10 characters"),
    "problem:new_password_same": ("新密码不能与当前密码相同。", "new password: must differ"),
    "problem:new_password_differs": (
        "两次输入的新密码不一致。",
        "new password: the two entries differ",
    ),
    "problem": ("{what}", "{what}"),
    "paused_by": ("已由 {who} 暂停", "Paused by {who}"),
    # the call sheet: a contact not to call, an outcome already recorded, times' zone
    "do_not_call": ("请勿拨打:{why}", "Do not call: {why}"),
    "why_holdout": ("对照组客户,本次有意不联系", "in the holdout, deliberately not contacted"),
    "why_excluded": ("已排除({reason})", "excluded ({reason})"),
    "why_suppressed": ("已让位({reason})", "suppressed ({reason})"),
    "why_expired": ("已过有效期,未分配", "expired before it was listed"),
    "why_not_listed": ("尚未分配给客服({status})", "not on a caller's list ({status})"),
    "why_paused": ("所属执行已暂停", "its run is paused"),
    "why_not_due": ("再联系日期为 {day},尚未到期", "a callback for {day}, not due yet"),
    "why_too_old": ("{day} 的名单已过期", "the list of {day} is over"),
    "why_other_caller": ("在 {caller} 的名单上", "on {caller}'s list"),
    "recorded": ("已记录的结果", "Outcome recorded"),
    "recorded_by": ("{who} 记录于 {when}", "by {who} at {when}"),
    "amended_by": ("{who} 修改于 {when}", "amended by {who} at {when}"),
    "amend": ("修改结果", "Amend the outcome"),
    "amended": ("已修改:{what}", "Amended: {what}"),
    "unchanged": ("结果未变:{what}", "Nothing changed: {what}"),
    "times_in": ("时间均为{zone}", "Times in {zone}"),
}


def pick_language(user_language: str | None, accept_language: str | None) -> str:
    """``zh`` or ``en``: the user's choice, else the first of ours in ``Accept-Language``
    (by its q values), else ``zh``."""
    if user_language in LANGUAGES:
        return str(user_language)
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, index, primary))
    return sorted(ranked)[0][2] if ranked else "zh"


def translate(key: str, lang: str, **values: object) -> str:
    """The words of ``key`` in ``lang``, with ``{name}`` fields filled from ``values``;
    a code (a status, a reason, an outcome) gets its label from the one catalogue
    (:data:`revisit.campaigns.labels.ANY`); an unknown key is itself."""
    pair = WORDS.get(key) or ANY.get(key)
    if pair is None:
        return key
    text = pick(pair, lang)
    return text.format(**values) if values else text


def error_text(error: RevisitError, lang: str, names: Mapping[str, str] | None = None) -> str:
    """What a page says of an error in ``lang``: an expected one (its ``code`` is a words
    key) in the user's words, its values filled in (a ``campaign`` by its display name from
    ``names``, campaign → name people read); any other as "the launch failed: " and its own
    one-line message."""
    if error.code and error.code in WORDS:
        values = {k: str(v) for k, v in error.values.items()}
        if "campaign" in values:
            values["campaign"] = (names or {}).get(values["campaign"], values["campaign"])
        return translate(error.code, lang, **values)
    return translate("failed_with", lang, what=str(error))


#: Known messages of the product's expected errors (words they hold) → words key; checked
#: before a field's general words, so that a field with several problems says which.
MESSAGES: tuple[tuple[str, str], ...] = (
    ("current password: wrong", "problem:current_password"),
    ("new password: at least", "problem:new_password_short"),
    ("new password: must differ", "problem:new_password_same"),
    ("new password: the two entries differ", "problem:new_password_differs"),
    ("an outcome is already recorded", "problem:already_recorded"),
    ("another outcome was recorded meanwhile", "problem:recorded_meanwhile"),
    ("has no outcome to amend", "problem:nothing_to_amend"),
)


def problem_text(problem: object, lang: str) -> str:
    """An expected error as the user reads it: in en its own message; in zh the words of a
    known message (:data:`MESSAGES`), else of its field (an outcome form's
    :class:`~revisit.outcomes.calls.FieldProblem`), else its message."""
    text = str(problem)
    if lang == "en":
        return text
    for words, key in MESSAGES:
        if words in text:
            return translate(key, lang)
    field = getattr(problem, "field", None)
    if isinstance(field, str) and f"problem:{field}" in WORDS:
        return translate(f"problem:{field}", lang)
    return text


#: Time zones of mainland China, whose clocks all read Beijing time.
BEIJING_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"})


def zone_name(zone: str, lang: str) -> str:
    """A time zone as staff read it: 北京时间 for China's zones in zh; else the zone's UTC
    offset now (``UTC+8``, ``UTC+5:30``) in zh, and its IANA name in en."""
    if lang == "en":
        return zone
    if zone in BEIJING_ZONES:
        return "北京时间"
    try:
        offset = dt.datetime.now(ZoneInfo(zone)).utcoffset() or dt.timedelta()
    except (ZoneInfoNotFoundError, ValueError):
        return zone
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")
