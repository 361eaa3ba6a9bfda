"""What a campaign run hands its waiting contacts to: a :class:`RunChannel` (``find`` what
waits, ``send`` it, ``close``), the same for SMS and calls, and what a send did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import ChannelKind, RunStatus


@dataclass
class Delivered:
    """What one ``send`` did: where the run stands, and what it left for people to read."""

    status: RunStatus
    dispatch: dict[str, Any] = field(default_factory=dict)  # the SMS dispatch summary
    sms_file: str | None = None  # the console channel's output
    call_lists: list[str] = field(default_factory=list)  # CSV and HTML files


@runtime_checkable
class RunChannel(Protocol):
    """How a run's waiting contacts reach customers. ``find`` counts the run's contacts
    this channel still has to deliver; ``send`` delivers them (resuming what an earlier
    send left) and says where the run stands; ``close`` lets go of what it holds."""

    kind: ChannelKind

    def find(self, engine: Engine, *, run_id: int) -> int: ...

    def send(self, engine: Engine, *, run_id: int) -> Delivered: ...

    def close(self) -> None: ...
