"""The ``revisit`` command: the Typer app (:mod:`revisit.cli.app`) with every command module
imported, so that each registers its commands on it."""

from revisit.cli import (
    campaigns,
    data,
    demo,
    dev,
    optouts,
    outcomes,
    report,
    reports,
    runs,
    tickets,
    users,
    webhooks,
)
from revisit.cli.app import app

__all__ = [
    "app",
    "campaigns",
    "data",
    "demo",
    "dev",
    "optouts",
    "outcomes",
    "report",
    "reports",
    "runs",
    "tickets",
    "users",
    "webhooks",
]
