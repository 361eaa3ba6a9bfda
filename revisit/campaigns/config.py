"""Campaign files: ``campaigns/<name>.yaml``, validated with pydantic.

A campaign names its cohort and parameters, a channel, a template per language, a
schedule, a priority, a send window, a frequency cap, a holdout percentage, an attribution
window, declarative filters and, for calls, who calls (``callers``, ``call_by``,
``call_to``). A campaign may also say what it tells customers beyond the cohort (an
occasion, an offer, the workshop's hours: :mod:`revisit.campaigns.content`). A file
that does not validate raises :class:`~revisit.errors.ConfigError` naming the file and
the field.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
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

from revisit.campaigns.content import CampaignContent
from revisit.campaigns.statuses import ChannelKind
from revisit.campaigns.window import SendWindow
from revisit.cohorts.select import COHORTS, CohortFilter
from revisit.errors import ConfigError
from revisit.yamlfiles import yaml_problem

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


class CampaignDef(CampaignContent):
    """One campaign file.

    ``call_to``: who a call campaign's lists go to — ``staff`` (``callers`` / ``call_by``
    decide) or ``service_manager`` (the store's service manager, for the seeds' important
    customers such as repeat repairs; see ``Settings.service_managers``)."""

    name: str
    description: str = ""
    # The name people read, per language ({zh: 三日回访, en: Three-day follow-up}).
    title: dict[str, str] = Field(default_factory=dict)
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
    # Call campaigns: who calls (revisit.delivery.calls). The campaign's own callers, in
    # turn, instead of the store's; last_advisor gives a customer to their last advisor.
    callers: tuple[str, ...] = ()
    call_by: Literal["callers", "last_advisor"] = "callers"
    # Call campaigns for the seeds' important customers: every list to the store's
    # service manager (Settings.service_managers), not to the callers.
    call_to: Literal["staff", "service_manager"] = "staff"
    # How many days from the run day its contacts stay worth sending (1: the run day only);
    # a campaign may shorten its cohort's own limit, or give an evergreen cohort one.
    valid_days: int | None = Field(default=None, ge=1, le=365)

    @field_validator("cohort")
    @classmethod
    def _known_cohort(cls, value: str) -> str:
        if value not in COHORTS:
            raise ValueError(f"unknown cohort {value!r}; known: {', '.join(COHORTS)}")
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: dict[str, str]) -> dict[str, str]:
        for lang in value:
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
        return value

    def display_name(self, lang: str) -> str:
        """The campaign's name for people reading ``lang``: its ``title`` in that language,
        else in the other, else its file name."""
        others = [t for k, t in sorted(self.title.items()) if k != lang]
        return self.title.get(lang) or next(iter(others), self.name)

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
        if self.call_to != "staff" and self.channel != "call":
            raise ValueError("call_to: only a call campaign hands lists to people")
        if (self.occasion or self.offer) and self.schedule != "manual":
            # a daily run would greet (or offer) the same customers again every day
            raise ValueError("schedule: a campaign with an occasion or an offer is manual")
        texts = [("offer.text", self.offer.text)] if self.offer else []
        texts += [("occasion.name", self.occasion.name)] if self.occasion else []
        for where, text in texts:
            missing = sorted(set(self.templates) - set(text))
            if missing:
                raise ValueError(f"{where}: no text for {', '.join(missing)}")
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

    def last_useful_day(self, as_of: dt.date) -> dt.date | None:
        """The campaign's own limit on its contacts of ``as_of``: the earliest of the run
        day + ``valid_days`` − 1, a greeting's occasion date (the text says "today") and an
        offer's ``valid_until``; None when it sets none. A contact's last useful day is the
        earlier of this and its cohort's (:func:`revisit.cohorts.events.last_useful_day`)."""
        limits = [self.occasion.date] if self.occasion else []
        limits += [self.offer.valid_until] if self.offer else []
        if self.valid_days is not None:
            limits.append(as_of + dt.timedelta(days=self.valid_days - 1))
        return min(limits, default=None)

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


class _CampaignYaml(yaml.SafeLoader):
    """YAML as people write campaign files: ``start: 9:00`` stays the text "9:00" (YAML 1.1
    would read it as the base-60 integer 540)."""


_CampaignYaml.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CampaignYaml.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+)$"),
    list("-+0123456789"),
)


def _key_lines(node: yaml.Node | None, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """(key path) → 1-based line of the key, for every key of a composed YAML mapping."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*path, str(key.value))
            lines[here] = key.start_mark.line + 1
            lines.update(_key_lines(value, here))
    return lines


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose fields a value at ``loc`` (without its last part) is checked against."""
    model: type[BaseModel] = CampaignDef
    for part in loc[:-1]:
        found = model.model_fields.get(str(part)) or _aliased(model, str(part))
        sub = found.annotation if found is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return None
        model = sub
    return model


def _aliased(model: type[BaseModel], name: str) -> Any:
    for found in model.model_fields.values():
        alias = found.validation_alias
        if isinstance(alias, AliasChoices) and name in alias.choices:
            return found
    return None


def _known_keys(model: type[BaseModel]) -> list[str]:
    keys = list(model.model_fields)
    for found in model.model_fields.values():
        if isinstance(found.validation_alias, AliasChoices):
            keys += [str(c) for c in found.validation_alias.choices]
    return keys


def _problem(error: Any, lines: dict[tuple[str, ...], int], path: Path) -> str:
    """One validation error as ``file:line: field: message`` (with a "did you mean" for an
    unknown key close to a known one)."""
    loc = tuple(str(part) for part in error["loc"])
    where = f"{path}:{lines[loc]}" if loc in lines else str(path)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        model = _model_at(error["loc"])
        close = (
            difflib.get_close_matches(loc[-1], _known_keys(model), n=1, cutoff=0.75)
            if model
            else []
        )
        message = "unknown field" + (f"; did you mean {close[0]}?" if close else "")
    return f"{where}: {'.'.join(loc) or '(file)'}: {message}"


def load_campaign(path: Path) -> CampaignDef:
    """Read and validate one campaign file; its name defaults to the file's stem.

    Raises :class:`ConfigError` naming the file, the line and the field of each problem, e.g.
    ``campaigns/declined_c.yaml:7: holdout_pc: unknown field; did you mean holdout_pct?``."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_CampaignYaml)
        raw = yaml.load(text, Loader=_CampaignYaml)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(yaml_problem(path, exc, what="campaign file")) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: cannot read campaign file: {reason}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a campaign file is a mapping of fields")
    raw.setdefault("name", path.stem)
    _default_cap(raw)
    try:
        campaign = CampaignDef.model_validate(raw)
    except ValidationError as exc:
        lines = _key_lines(node)
        raise ConfigError("; ".join(_problem(e, lines, path) for e in exc.errors())) from exc
    if campaign.name != path.stem:
        raise ConfigError(f"{path}: name: {campaign.name!r} must match the file name")
    return campaign


@dataclass
class CampaignFiles:
    """The campaign files of a folder: those that load, by name, and the broken ones, by
    file stem, with the error that names their problem. A broken file fails its campaign
    alone; the others still run."""

    campaigns: dict[str, CampaignDef] = field(default_factory=dict)
    broken: dict[str, ConfigError] = field(default_factory=dict)


def read_campaigns(campaigns_dir: Path) -> CampaignFiles:
    """Every ``*.yaml``/``*.yml`` campaign file in ``campaigns_dir``, each loaded on its own.

    Raises :class:`ConfigError` only when the folder itself is missing."""
    if not campaigns_dir.is_dir():
        raise ConfigError(f"{campaigns_dir}: no such campaigns directory")
    files = CampaignFiles()
    for path in sorted([*campaigns_dir.glob("*.yaml"), *campaigns_dir.glob("*.yml")]):
        try:
            campaign = load_campaign(path)
        except ConfigError as exc:
            files.broken[path.stem] = exc
        else:
            files.campaigns[campaign.name] = campaign
    return files


def load_campaigns(campaigns_dir: Path) -> dict[str, CampaignDef]:
    """Every ``*.yaml`` campaign in ``campaigns_dir``, by name; raises the
    :class:`ConfigError` of the first broken file (see :func:`read_campaigns` to go on
    without it)."""
    files = read_campaigns(campaigns_dir)
    for error in files.broken.values():
        raise error
    return files.campaigns
