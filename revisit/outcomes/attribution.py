"""Outcomes of contacts: delivery, replies, call results, and returns to the shop."""

from __future__ import annotations

from sqlalchemy.engine import Engine


def attribute_returns(engine: Engine) -> int:
    """Mark contacted customers who came back within their campaign's attribution window.

    Runs after every import. No contact has been made before campaigns dispatch, so there is
    nothing to attribute yet: the return attribution lands with the outcomes feature.
    """
    del engine
    return 0
