"""Commands for getting data in: ``import``, ``demo-data``, ``demo-report``."""

from __future__ import annotations
