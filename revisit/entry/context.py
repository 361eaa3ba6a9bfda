"""The settings of a process: read from the environment in one place, at the entry point.

The CLI builds them once per invocation (its callback), a flow once per flow run; both pass
them down with an engine to the entry functions (:mod:`revisit.entry.daily`,
:mod:`revisit.entry.preview`). Nothing below the entry layer reads the environment.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from revisit.errors import ConfigError
from revisit.settings import Settings


def load_settings(**overrides: Any) -> Settings:
    """:class:`Settings` from the environment (``REVISIT_*``, ``TWILIO_*``), with
    ``overrides`` (field names; ``None`` values are ignored) on top.

    Raises :class:`ConfigError` naming the variable when a value does not validate."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"settings from the environment: {problems}") from exc
    given = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=given) if given else settings


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable of a settings field (``REVISIT_<FIELD>`` or its alias)."""
    name = str(loc[0]) if loc else "?"
    field = Settings.model_fields.get(name)
    alias = field.validation_alias if field is not None else None
    if alias is not None and hasattr(alias, "choices"):
        return str(alias.choices[0])
    return name.upper() if name.isupper() else f"REVISIT_{name.upper()}"
