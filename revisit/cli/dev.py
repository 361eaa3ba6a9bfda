"""Commands of the `revisit` CLI (registered on `revisit.cli.app`)."""

from __future__ import annotations
