"""The library's exception classes. The CLI turns them into messages and exit codes,
flows into failed states; the library itself never prints or exits."""

from __future__ import annotations


class RevisitError(Exception):
    """Base class: the message says what was wrong, where, and what to do."""

    exit_code = 2


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
