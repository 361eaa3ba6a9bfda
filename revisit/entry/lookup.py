"""Finding what a user named: a campaign, a cohort, the day to run for.

A name that is not found raises :class:`~revisit.errors.NotFoundError` with the known names
and a "did you mean" for a close one, so that the CLI and the flows answer a typo with one
line instead of a ``KeyError``.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.config import CampaignDef, CampaignFiles, read_campaigns
from revisit.cohorts.select import COHORTS
from revisit.db.tables import CAMPAIGNS, CUSTOMERS, STORES
from revisit.errors import NotFoundError, RevisitError
from revisit.settings import Settings


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean X?)"`` for the known name closest to ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def campaign_files(settings: Settings) -> CampaignFiles:
    """The campaign files of ``settings.campaigns_dir``, the broken ones set apart.

    Raises :class:`~revisit.errors.ConfigError` when the folder does not exist."""
    return read_campaigns(settings.campaigns_dir)


def campaign_titles(settings: Settings, lang: str) -> dict[str, str]:
    """campaign file name → the name people read in ``lang`` (the file's ``title``), for
    every campaign file that loads; {} when the folder cannot be read (reports of past runs
    then show the names the runs were recorded under)."""
    try:
        files = campaign_files(settings)
    except RevisitError:
        return {}
    return {name: c.display_name(lang) for name, c in files.campaigns.items()}


def find_campaign(files: CampaignFiles, name: str) -> CampaignDef:
    """The campaign called ``name``. Raises the :class:`~revisit.errors.ConfigError` of its
    file when that file is broken, :class:`NotFoundError` when there is no such file."""
    if name in files.campaigns:
        return files.campaigns[name]
    if name in files.broken:
        raise files.broken[name]
    known = sorted([*files.campaigns, *files.broken])
    raise NotFoundError(
        f"unknown campaign {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}"
    )


def find_cohort(name: str) -> str:
    """``name`` when it is a cohort (SPEC's cohort list), else :class:`NotFoundError`."""
    if name not in COHORTS:
        raise NotFoundError(
            f"unknown cohort {name!r}{did_you_mean(name, COHORTS)}; known: {', '.join(COHORTS)}"
        )
    return name


def check_known(
    engine: Engine,
    *,
    campaign: str | None = None,
    store: str | None = None,
    stores: Iterable[str] = (),
) -> None:
    """Raise :class:`NotFoundError` (with a "did you mean") when ``campaign`` has never run
    and names no campaign file's campaign either, or ``store`` (or one of ``stores``) names
    no imported store: a report filter that finds nothing because of a typo must say so,
    not print nothing."""
    asked = [*([store] if store is not None else []), *stores]
    with engine.connect() as conn:
        if campaign is not None:
            known = set(conn.execute(select(CAMPAIGNS.c.name)).scalars())
            if campaign not in known:
                raise NotFoundError(
                    f"unknown campaign {campaign!r}{did_you_mean(campaign, known)}; "
                    f"campaigns with runs: {', '.join(sorted(known)) or 'none yet'}"
                )
        known_stores = set(conn.execute(select(STORES.c.store_id)).scalars()) if asked else set()
        for name in asked:
            if name not in known_stores:
                # The hint names the stores that have customers (the default store always
                # exists, and is named only when customers without a store_id were imported).
                served = set(conn.execute(select(CUSTOMERS.c.store_id).distinct()).scalars())
                named = sorted(known_stores & served) or sorted(known_stores)
                raise NotFoundError(
                    f"unknown store {name!r}{did_you_mean(name, named)}; "
                    f"stores with customers: {', '.join(named)}"
                )


def day_of(settings: Settings, as_of: dt.date | None, now: dt.datetime | None = None) -> dt.date:
    """The as_of of a run: ``as_of`` when given, else the date of ``now`` (aware) in the
    default store time zone, else today there."""
    if as_of is not None:
        return as_of
    if now is not None:
        return now.astimezone(ZoneInfo(settings.default_timezone)).date()
    return settings.today()
