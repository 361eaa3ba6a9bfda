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
    # The chart library of the dashboard, installed from the npm registry by `make install`
    # (a relative path is also looked for in the source checkout).
    echarts_js: Path = Path("node_modules/echarts/dist/echarts.min.js")

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
    # store id → the service manager who takes the call lists of ``call_to:
    # service_manager`` campaigns (repeat repairs), as JSON: {"S01": "王经理"}
    service_managers: dict[str, str] = Field(default_factory=dict)
    # Where Twilio reaches this deployment's webhooks (``revisit serve`` behind a proxy), e.g.
    # https://revisit.example.com: signatures are checked against it, and every SMS asks for
    # status callbacks at <public_url>/twilio/status.
    public_url: str | None = None
    # Whether the SMS sender receives replies (a two-way number whose inbound webhook points
    # at <public_url>/twilio/inbound). Replies from mainland China (+86) never arrive through
    # Twilio whatever this says; their opt-out hint names the store's phone instead.
    sms_replies: bool = False
    # The daily SMS budget of every store, in messages (None: no budget), and per-store
    # exceptions as JSON: {"QZFZ": 3000}. It spans campaigns (filled highest priority first),
    # so it is no campaign file's; stores come from the DMS export, so it is no store column.
    sms_daily_budget: int | None = Field(default=None, ge=0)
    sms_budgets: dict[str, int] = Field(default_factory=dict)
    # Signs the web app's session cookies (a long random string, kept secret; changing it
    # signs everyone out). Without it the pages answer 503 (Twilio's webhooks still work),
    # unless dev_sessions is set.
    secret_key: SecretStr | None = None
    # The Prefect API the web app launches campaigns through (a flow run of the
    # launch-campaign deployment, run by the pool's worker); unset: in the app's process.
    prefect_api_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REVISIT_PREFECT_API_URL", "PREFECT_API_URL")
    )
    # Demo and tests only: sign sessions with a key made up when the process starts (every
    # restart signs everyone out). Never in production.
    dev_sessions: bool = False

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Asia/Shanghai")
        return value

    @field_validator("sms_budgets")
    @classmethod
    def _budgets(cls, value: dict[str, int]) -> dict[str, int]:
        negative = sorted(k for k, n in value.items() if n < 0)
        if negative:
            raise ValueError(f"a store's SMS budget is 0 or more (store {negative[0]})")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"REVISIT_PUBLIC_URL must start with https:// (got {value!r})")
        return value

    @field_validator("prefect_api_url")
    @classmethod
    def _prefect_api_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"a Prefect API URL starts with http(s):// (got {value!r})")
        return value

    @property
    def https(self) -> bool:
        """True when the public URL is https: session cookies are then sent over https only."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    def today(self) -> dt.date:
        """Today's date in the default store time zone (the as_of when none is given)."""
        return dt.datetime.now(ZoneInfo(self.default_timezone)).date()

    @property
    def status_callback_url(self) -> str | None:
        """Where the provider posts status callbacks, or None without a public URL."""
        return f"{self.public_url}/twilio/status" if self.public_url else None

    @property
    def receives_replies(self) -> bool:
        """Whether replies to the SMS sender reach revisit (Twilio with a two-way sender)."""
        return self.sms_replies and self.has_twilio

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

    @property
    def sms_account(self) -> str | None:
        """The provider account whose send rate every dispatcher shares
        (``twilio:<account sid>``), or None on the console channel."""
        return f"twilio:{self.twilio_account_sid}" if self.has_twilio else None
