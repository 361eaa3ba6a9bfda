"""Campaign files: every shipped file loads; a bad one names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from revisit.campaigns.config import load_campaign, load_campaigns
from revisit.cohorts.select import COHORTS
from revisit.errors import ConfigError

SHIPPED = Path(__file__).parent.parent / "campaigns"
GOOD = """cohort: lapsed_12_24
channel: sms
templates: {zh: sms/lapsed_12_24.zh.j2}
priority: 30
"""


def test_one_shipped_campaign_per_cohort() -> None:
    """One campaign named after each cohort, except active_customers, which the greeting
    and seasonal campaigns share."""
    campaigns = load_campaigns(SHIPPED)
    assert set(campaigns) == (set(COHORTS) - {"active_customers"}) | {"festival", "seasonal"}
    assert all(c.cohort == name for name, c in campaigns.items() if name in COHORTS)
    assert {campaigns[n].cohort for n in ("festival", "seasonal")} == {"active_customers"}
    assert {n for n, c in campaigns.items() if c.channel == "call"} == {
        "declined_a",
        "insurance_renewal",  # Twilio's China SMS rules forbid insurers' marketing
        "new_car_7dc",
        "post_service_followup",
        "repeat_repair",
    }
    assert len({c.priority for c in campaigns.values()}) == len(campaigns)


def test_defaults_from_spec(tmp_path: Path) -> None:
    path = tmp_path / "lapsed_12_24.yaml"
    path.write_text(GOOD)
    c = load_campaign(path)
    assert (c.send_window.start.hour, c.send_window.end.hour) == (9, 20)
    assert (c.frequency_cap.max_sms, c.frequency_cap.days) == (1, 7)
    assert c.frequency_cap.recontact_days == 30
    assert "lapsed_6_12" in c.frequency_cap.recontact_campaigns
    assert c.attribution_days == 30 and c.schedule == "manual"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("channel: sms", "channel: fax"), "channel"),
        (("priority: 30", "priority: high"), "priority"),
        (("cohort: lapsed_12_24", "cohort: lapsed_forever"), "cohort"),
        (("priority: 30", "priority: 30\nholdout_pct: 80"), "holdout_pct"),
        (
            ("priority: 30", "priority: 30\nquiet_hours: {start: '21:00', end: '08:00'}"),
            "quiet_hours",
        ),
        (("priority: 30", "priority: 30\nfilters: {car_age: 3}"), "filters.car_age"),
        (("priority: 30", "priority: 30\nparams: {max_monthz: 3}"), "params"),
        (("{zh: sms/lapsed_12_24.zh.j2}", "{fr: sms/x.j2}"), "templates"),
        (("{zh: sms/lapsed_12_24.zh.j2}", "{zh: calls/x.zh.j2}"), "templates.zh"),
        (("priority: 30", "priority: 30\nschedul: daily"), "schedul"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, change, field: str) -> None:
    path = tmp_path / "lapsed_12_24.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_unreadable_yaml(tmp_path: Path) -> None:
    path = tmp_path / "birthday.yaml"
    path.write_text("cohort: [unclosed")
    with pytest.raises(ConfigError, match=r"birthday\.yaml"):
        load_campaigns(tmp_path)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        # an indented key under a plain value (the trial's broken file)
        (
            "name: x\ncohort: lapsed_6_12\n  channel: sms\n",
            ":3:10:",
            "mapping values are not allowed here (line: 'channel: sms')",
        ),
        # a flow sequence never closed: the parser names where it gave up and what it was parsing
        (
            "cohort: [lapsed\npriority: 3\n",
            ":2:9:",
            "expected ',' or ']', but got ':'; while parsing a flow sequence",
        ),
        # a tab used for indentation
        ("name: x\n\tcohort: a\n", ":2:1:", "found character '\\t' that cannot start any token"),
    ],
)  # fmt: skip
def test_yaml_syntax_errors_name_file_line_and_column(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    message = str(info.value)
    assert message.startswith(f"{path}{where} campaign file is not valid YAML: ")
    assert problem in message and "\n" not in message
