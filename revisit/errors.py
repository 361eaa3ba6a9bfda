"""The library's exception classes. The CLI turns them into messages and exit codes,
flows into failed states; the library itself never prints or exits."""

from __future__ import annotations


class RevisitError(Exception):
    """Base class: the message says what was wrong, where, and what to do (in English, for
    the CLI and the logs). An error a page may show in the user's language also carries a
    ``code`` (a words key of :mod:`revisit.web.i18n`) and the ``values`` its text names
    (strings, dates, numbers); both survive pickling (a flow run's failed state)."""

    exit_code = 2

    def __init__(
        self, message: str = "", *, code: str | None = None, values: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.values = dict(values or {})


class ImportFileError(RevisitError):
    """A whole input file cannot be read (unknown kind, missing required column, bad encoding)."""


class EmptyFileError(ImportFileError):
    """An input file without even a header: nothing to load, and nothing lost by skipping it."""


class ConfigError(RevisitError):
    """A campaign file, template or setting is invalid."""


class TemplateError(RevisitError):
    """A template failed to render for a member of a campaign."""


class ProviderError(RevisitError):
    """The message provider refused or failed a request."""


class DatabaseError(RevisitError):
    """The database cannot be reached, does not exist yet, or holds no imported data (only
    ``revisit import`` creates one)."""


class NotFoundError(RevisitError):
    """A lookup by name or id found nothing (a campaign, a cohort, a run)."""
