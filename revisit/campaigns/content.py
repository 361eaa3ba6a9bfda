"""What a campaign file says to customers beyond its cohort: the occasion a greeting is for,
the offer a seasonal campaign makes, the workshop's opening hours. Validated with pydantic
as part of the campaign file; available to its templates as ``campaign.occasion``,
``campaign.offer`` and ``campaign.workshop_hours`` (see :meth:`CampaignContent.template_vars`).

The seeds' rule for greetings (关怀函、祝贺函): care, never a sales pitch. A campaign with an
``occasion`` may not carry an ``offer``; its templates are checked for price, offer and
booking words by the test suite.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revisit.errors import ConfigError

LANGUAGES = ("zh", "en")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _languages(value: dict[str, str]) -> dict[str, str]:
    if "zh" not in value:
        raise ValueError("a zh text is needed")
    for lang, text in value.items():
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
        if not text.strip():
            raise ValueError(f"{lang}: empty text")
    return value


class Occasion(_Strict):
    """The day a greeting is for (春节, 中秋, …): its name per language and its date. The
    campaign runs on that date only."""

    name: dict[str, str]
    date: dt.date

    @field_validator("name")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        return _languages(value)


class Offer(_Strict):
    """What a seasonal campaign offers: a short text per language (what, for whom) and the
    days it is valid, both included. A run after ``valid_until``, or more than
    ``announce_days`` before ``valid_from``, is refused."""

    text: dict[str, str]
    valid_from: dt.date
    valid_until: dt.date
    announce_days: int = Field(default=30, ge=0, le=365)

    @field_validator("text")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        return _languages(value)

    @model_validator(mode="after")
    def _ordered(self) -> Offer:
        if self.valid_from > self.valid_until:
            raise ValueError("valid_from must not be after valid_until")
        return self


class OpeningHours(_Strict):
    """The workshop's opening hours, local time (for the texts that tell customers when to
    come; default 08:30–17:30)."""

    start: dt.time = dt.time(8, 30)
    end: dt.time = dt.time(17, 30)

    @model_validator(mode="after")
    def _ordered(self) -> OpeningHours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    def label(self) -> str:
        """``08:30–17:30``."""
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class RunDays:
    """The days a campaign may run for, both included: ``first`` and ``last`` (None: no
    limit that side). A greeting runs on its occasion's date only; an offer from
    ``announce_days`` before it is valid to its last valid day; any other campaign any day."""

    first: dt.date | None = None
    last: dt.date | None = None

    def allows(self, day: dt.date) -> bool:
        """Whether the campaign may run for ``day``."""
        return (self.first is None or day >= self.first) and (self.last is None or day <= self.last)

    @property
    def limited(self) -> bool:
        """True when some day is refused (the campaign has an occasion or an offer)."""
        return self.first is not None or self.last is not None

    @property
    def one_day(self) -> bool:
        """True when the campaign runs on one day only (a greeting)."""
        return self.first is not None and self.first == self.last


class CampaignContent(_Strict):
    """The content fields of a campaign file (mixed into :class:`CampaignDef`)."""

    occasion: Occasion | None = None
    offer: Offer | None = None
    workshop_hours: OpeningHours = Field(default_factory=OpeningHours)

    @model_validator(mode="after")
    def _greeting_without_offer(self) -> CampaignContent:
        if self.occasion is not None and self.offer is not None:
            raise ValueError("offer: a greeting for an occasion carries no offer")
        return self

    def template_vars(self) -> dict[str, Any]:
        """``occasion``, ``offer`` (None when the file has none) and ``workshop_hours``
        (``label``, ``start``, ``end`` as HH:MM), for the ``campaign`` template variable."""
        hours = self.workshop_hours
        return {
            "occasion": self.occasion.model_dump() if self.occasion else None,
            "offer": self.offer.model_dump() if self.offer else None,
            "workshop_hours": {
                "label": hours.label(),
                "start": f"{hours.start:%H:%M}",
                "end": f"{hours.end:%H:%M}",
            },
        }

    def run_days(self) -> RunDays:
        """The days this campaign may run for (:class:`RunDays`): its occasion's date, its
        offer's announce-to-end range, else every day."""
        if self.occasion is not None:
            return RunDays(self.occasion.date, self.occasion.date)
        f = self.offer
        if f is not None:
            return RunDays(f.valid_from - dt.timedelta(days=f.announce_days), f.valid_until)
        return RunDays()

    def check_run_day(self, campaign: str, as_of: dt.date) -> None:
        """Raise :class:`ConfigError` when ``campaign`` may not run for ``as_of``
        (:meth:`run_days`): a greeting on another day than its occasion's, an offer before
        it may be announced or after its last valid day. The error's ``code`` is
        ``run_days_one`` or ``run_days_range``, its values ``campaign``, ``as_of``, ``first``
        and ``last``."""
        days = self.run_days()
        if days.allows(as_of):
            return
        values: dict[str, object] = {"campaign": campaign, "as_of": as_of, "first": days.first,
                                     "last": days.last}  # fmt: skip
        code = "run_days_one" if days.one_day else "run_days_range"
        o, f = self.occasion, self.offer
        if o is not None:
            raise ConfigError(
                f"campaign {campaign}: the greeting is for {o.name['zh']} on {o.date}, not "
                f"{as_of}; run it with --as-of {o.date} or change occasion.date in its file",
                code=code, values=values,
            )  # fmt: skip
        assert f is not None and days.first is not None
        if as_of < days.first:
            raise ConfigError(
                f"campaign {campaign}: its offer starts on {f.valid_from}; it may be announced "
                f"from {days.first} (offer.announce_days: {f.announce_days}), not as of {as_of}",
                code=code, values=values,
            )  # fmt: skip
        raise ConfigError(
            f"campaign {campaign}: its offer ended on {f.valid_until} (as of {as_of}); "
            "change offer.valid_from/valid_until in its file",
            code=code, values=values,
        )  # fmt: skip

    def run_day_problem(self, campaign: str, as_of: dt.date) -> str | None:
        """Why ``campaign`` may not run for ``as_of`` (:meth:`check_run_day`'s one line), or
        None when it may. A day's plan leaves out what the day cannot run."""
        if self.run_days().allows(as_of):
            return None
        try:
            self.check_run_day(campaign, as_of)
        except ConfigError as exc:
            return str(exc)
        return None
