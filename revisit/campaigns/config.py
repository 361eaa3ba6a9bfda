"""Campaign files: ``campaigns/<name>.yaml``, one per cohort, validated with pydantic.

A campaign names its cohort and parameters, a channel, a template per language, a
schedule, a priority, a send window, a frequency cap, a holdout percentage, an attribution
window and declarative filters. A file that does not validate raises
:class:`~revisit.errors.ConfigError` naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from revisit.campaigns.statuses import ChannelKind
from revisit.campaigns.window import SendWindow
from revisit.cohorts.select import COHORTS, CohortFilter
from revisit.errors import ConfigError

LAPSED_CAMPAIGNS = ("lapsed_6_12", "lapsed_12_24", "lapsed_24_plus")
LANGUAGES = ("zh", "en")
TEMPLATE_DIRS = {ChannelKind.SMS: "sms", ChannelKind.CALL: "calls"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrequencyCap(_Strict):
    """At most ``max_sms`` SMS per customer in any ``days`` days, across all campaigns;
    and no contact within ``recontact_days`` of a contact from a ``recontact_campaigns`` one."""

    max_sms: int = Field(default=1, ge=1)
    days: int = Field(default=7, ge=1)
    recontact_days: int | None = Field(default=None, ge=1)
    recontact_campaigns: tuple[str, ...] = ()


class AgeBand(_Strict):
    """Car age in whole years at as_of: ``min <= age < max``."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> AgeBand:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class Filters(_Strict):
    """Declarative filters; an empty list means "any"."""

    stores: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    car_age_years: AgeBand = AgeBand()

    def to_cohort_filter(self) -> CohortFilter:
        return CohortFilter(
            stores=self.stores,
            regions=self.regions,
            models=self.models,
            min_car_age_years=self.car_age_years.min,
            max_car_age_years=self.car_age_years.max,
        )


class CampaignDef(_Strict):
    """One campaign file."""

    name: str
    description: str = ""
    cohort: str
    params: dict[str, Any] = Field(default_factory=dict)
    channel: ChannelKind
    templates: dict[str, str]
    schedule: Literal["daily", "manual"] = "manual"
    priority: int = Field(ge=0, le=1000)
    send_window: SendWindow = Field(
        default=SendWindow(), validation_alias=AliasChoices("send_window", "quiet_hours")
    )
    frequency_cap: FrequencyCap = FrequencyCap()
    holdout_pct: float = Field(default=0.0, ge=0, le=50)
    attribution_days: int = Field(default=30, ge=1, le=365)
    max_segments: int | None = Field(default=None, ge=1)
    filters: Filters = Filters()

    @field_validator("cohort")
    @classmethod
    def _known_cohort(cls, value: str) -> str:
        if value not in COHORTS:
            raise ValueError(f"unknown cohort {value!r}; known: {', '.join(COHORTS)}")
        return value

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one language is needed")
        for lang, path in value.items():
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
            if not path.endswith(".j2") or path.startswith("/") or ".." in path:
                raise ValueError(f"{lang}: {path!r} is not a .j2 path under templates/")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CampaignDef:
        unknown = set(self.params) - set(COHORTS[self.cohort].defaults)
        if unknown:
            raise ValueError(f"params: unknown for {self.cohort}: {', '.join(sorted(unknown))}")
        folder = TEMPLATE_DIRS[self.channel] + "/"
        for lang, path in self.templates.items():
            if not path.startswith(folder):
                raise ValueError(f"templates.{lang}: a {self.channel} template lives in {folder}")
        return self

    @property
    def cohort_params(self) -> dict[str, Any]:
        return {**COHORTS[self.cohort].defaults, **self.params}

    @property
    def selection(self) -> dict[str, Any]:
        """The campaign's cohort as keyword arguments of ``select_cohort``/``member_query``."""
        return {
            "cohort": self.cohort,
            "params": self.params,
            "filters": self.filters.to_cohort_filter(),
        }

    def rank(self) -> tuple[int, str]:
        """Sort key: higher priority first, then name, so ties resolve the same way always."""
        return (-self.priority, self.name)


def _default_cap(raw: dict[str, Any]) -> None:
    """Lapsed campaigns do not re-contact a customer within 30 days of a lapsed contact."""
    if str(raw.get("cohort", "")).startswith("lapsed_"):
        cap = raw.setdefault("frequency_cap", {}) or {}
        raw["frequency_cap"] = cap
        if isinstance(cap, dict):
            cap.setdefault("recontact_days", 30)
            cap.setdefault("recontact_campaigns", list(LAPSED_CAMPAIGNS))


def _field_path(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(file)"


def load_campaign(path: Path) -> CampaignDef:
    """Read and validate one campaign file; its name defaults to the file's stem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read campaign file: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a campaign file is a mapping of fields")
    raw.setdefault("name", path.stem)
    _default_cap(raw)
    try:
        campaign = CampaignDef.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_field_path(e)}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
    if campaign.name != path.stem:
        raise ConfigError(f"{path}: name: {campaign.name!r} must match the file name")
    return campaign


def load_campaigns(campaigns_dir: Path) -> dict[str, CampaignDef]:
    """Every ``*.yaml`` campaign in ``campaigns_dir``, by name."""
    if not campaigns_dir.is_dir():
        raise ConfigError(f"{campaigns_dir}: no such campaigns directory")
    paths = sorted([*campaigns_dir.glob("*.yaml"), *campaigns_dir.glob("*.yml")])
    return {c.name: c for c in (load_campaign(p) for p in paths)}
