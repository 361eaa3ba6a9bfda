"""The dashboard's words in zh and en: headings, column heads, funnel stages, decline reasons
(the labels callers read, :data:`revisit.campaigns.outcome_codes.LABELS`)."""

from __future__ import annotations

from collections.abc import Mapping

from revisit.campaigns.labels import label
from revisit.campaigns.outcome_codes import DeclineReason

LANGUAGES = ("zh", "en")

_WORDS: dict[str, tuple[str, str]] = {
    "title": ("回厂看板", "Returns dashboard"),
    "generated": ("生成于", "Generated"),
    "filters": ("筛选", "Filters"),
    "all": ("全部", "all"),
    "stores": ("门店", "Stores"),
    "campaign": ("活动", "Campaign"),
    "since": ("起", "From"),
    "until": ("止", "To"),
    "period": ("周期", "Period"),
    "week": ("周", "week"),
    "month": ("月", "month"),
    "apply": ("应用", "Apply"),
    "csv": ("下载 CSV", "Download CSV"),
    "empty": ("无数据", "No data"),
    "trend_title": ("各活动回厂率（对照组并列）", "Return rate by campaign, holdout beside it"),
    "trend_note": (
        "提升 = 分配组回厂率 − 对照组回厂率，方括号为 95% 置信区间（百分点）；"
        "区间含 0 即尚不显著。",
        "Lift = assigned return rate − holdout return rate, 95% interval in brackets "
        "(percentage points); an interval containing 0 is not yet significant.",
    ),
    "runs_title": ("每次活动运行", "Every campaign run"),
    "funnel_title": (
        "漏斗：目标 → 联系 → 送达 → 触达 → 预约 → 回厂",
        "Funnel: targeted → contacted → delivered → reached → booked → returned",
    ),
    "churn_title": ("流失与拒绝原因", "Why customers decline"),
    "staff_title": ("回访人员成绩", "Callers' results"),
    "upsell_title": ("增修 KPI（增修率、增修成功率）", "Upsell KPIs (增修率, 增修成功率)"),
    "upsell_note": (
        "增修率 = 有增修项目的工单 / 工单；增修成功率 = 接受项目 / 提出项目。"
        "按到店日期统计，不分活动。",
        "增修率 = work orders with a proposed item / work orders; 增修成功率 = accepted items / "
        "proposed items. Counted by visit day, whatever the campaign.",
    ),
    "unknown": ("未登记", "unknown"),
    "significant": ("显著", "significant"),
    "not_yet": ("尚不显著", "not yet"),
    # column heads
    "day": ("日期", "Day"),
    "runs": ("运行次数", "Runs"),
    "targeted": ("目标", "Targeted"),
    "holdout": ("对照组", "Holdout"),
    "contacted": ("已联系", "Contacted"),
    "delivered": ("已送达", "Delivered"),
    "reached": ("已触达", "Reached"),
    "booked": ("已预约", "Booked"),
    "returned": ("已回厂", "Returned"),
    "return_rate": ("回厂率", "Return rate"),
    "holdout_return_rate": ("对照组回厂率", "Holdout return rate"),
    "lift": ("提升（百分点）", "Lift (pp)"),
    "lift_ci": ("95% 区间", "95% interval"),
    "revenue": ("回厂产值", "Revenue"),
    "stage": ("环节", "Stage"),
    "count": ("人数", "Count"),
    "of_targeted": ("占目标", "Of targeted"),
    "store": ("门店", "Store"),
    "reason": ("原因", "Reason"),
    "declined": ("拒绝数", "Declined"),
    "share": ("占比", "Share"),
    "staff": ("回访人员", "Caller"),
    "listed": ("名单数", "Listed"),
    "called": ("已拨打", "Called"),
    "reach_rate": ("接通率", "Reach rate"),
    "grade": ("级别", "Grade"),
    "advisor": ("服务顾问", "Advisor"),
    "team": ("班组", "Team"),
    "work_orders": ("工单", "Work orders"),
    "work_orders_with_items": ("有增修工单", "With items"),
    "upsell_rate": ("增修率", "增修率 (upsell rate)"),
    "items": ("提出项目", "Items proposed"),
    "accepted": ("接受项目", "Accepted"),
    "upsell_success_rate": ("增修成功率", "增修成功率 (success rate)"),
    "accepted_amount": ("接受金额", "Accepted amount"),
    # the CSV's columns beside the table's (revisit.reports.page.tables)
    "campaign_label": ("活动名称", "Campaign name"),
    "stage_label": ("环节名称", "Stage name"),
    "reason_label": ("原因名称", "Reason name"),
    "lift_ci_low": ("95% 区间下限（百分点）", "95% interval low (pp)"),
    "lift_ci_high": ("95% 区间上限（百分点）", "95% interval high (pp)"),
    "lift_ci_verdict": ("显著性", "Verdict"),
    "lift_ci_verdict_label": ("显著性名称", "Verdict name"),
    # the filter form's problems (revisit.web.routers.dashboard)
    "bad_filter": ("筛选条件有误，未显示数据：", "The filters are not valid; no data shown:"),
    "bad_date": (
        "“{field}”不是日期：{value!r}（请用 年-月-日，如 2026-11-01）",
        "{field} is not a date: {value!r} (use year-month-day, e.g. 2026-11-01)",
    ),
    "bad_range": ("起始日期 {since} 晚于截止日期 {until}", "From {since} is after To {until}"),
    "bad_period": (
        "未知周期：{value!r}（请选 月 或 周）",
        "unknown period {value!r} (choose month or week)",
    ),
    "by_month": ("按月", "by month"),
    "by_grade": ("按级别", "by grade"),
    "by_advisor": ("按服务顾问", "by advisor"),
    "by_team": ("按班组", "by team"),
}


def labels(lang: str, campaign_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every dashboard word in ``lang`` (zh or en; anything else falls back to zh), decline
    reasons included under their values (``reason:price`` → ``价格``, from the one label
    catalogue :mod:`revisit.campaigns.labels`) and the campaigns' display names under theirs
    (``campaign:lapsed_12_24`` → ``1-2年未回店召回``, from ``campaign_names``)."""
    i = 1 if lang == "en" else 0
    words = {key: pair[i] for key, pair in _WORDS.items()}
    for reason in DeclineReason:
        words[f"reason:{reason.value}"] = label(reason.value, lang, "decline_reason")
    for name, shown in (campaign_names or {}).items():
        words[f"campaign:{name}"] = shown
    return words
