"""One settings object, built at the entry point (CLI, flow, web app) and passed down.

Built by :func:`revisit.entry.context.load_settings`, the one place that reads the
environment; every field is listed in the README's Configuration table (a test checks)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_STORE_ID = "default"


class Settings(BaseSettings):
    """Everything revisit reads from the environment (prefix ``REVISIT_``)."""

    model_config = SettingsConfigDict(env_prefix="REVISIT_", extra="ignore")

    database_url: str = "sqlite:///revisit.db"
    default_region: str = "CN"
    default_timezone: str = DEFAULT_TIMEZONE
    campaigns_dir: Path = Path("campaigns")
    templates_dir: Path = Path("templates")
    output_dir: Path = Path("out")

    twilio_account_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID")
    )
    # A secret: printed and logged as ``**********``; read it with ``get_secret_value()``.
    twilio_auth_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN")
    )
    twilio_from: str | None = Field(default=None, validation_alias=AliasChoices("TWILIO_FROM"))
    twilio_messaging_service_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_MESSAGING_SERVICE_SID")
    )
    twilio_base_url: str = "https://api.twilio.com"
    # A secret too: a WeCom/DingTalk robot's URL carries its access key.
    staff_webhook_url: SecretStr | None = None

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Asia/Shanghai")
        return value

    def today(self) -> dt.date:
        """Today's date in the default store time zone (the as_of when none is given)."""
        return dt.datetime.now(ZoneInfo(self.default_timezone)).date()

    @property
    def has_twilio(self) -> bool:
        """True when an account, its token and a sender are all set (else SMS go to the
        console channel)."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and self.twilio_auth_token.get_secret_value()
            and (self.twilio_from or self.twilio_messaging_service_sid)
        )
