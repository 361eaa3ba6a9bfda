"""What the flows retry, and why only that.

A task is retried only when running it again cannot send anything twice and its failure may
pass: the DMS import (rows are upserted on their keys) and the return attribution (recomputed
from scratch) are retried after a database connection error, nothing else. A task or flow
run that may have sent — a campaign run, a dispatch-run — is never retried by Prefect: its
outbox already makes a second call safe (claimed contacts are reconciled with the provider
before anything is resent), and ``reconcile-deliveries`` resumes it on its schedule, after
the cause (an outage, quiet hours) has passed. An expected failure (a
:class:`~revisit.errors.RevisitError`: bad settings, a broken campaign file) is never retried:
it would fail the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

RETRIES = 2
RETRY_DELAYS: list[float] = [10.0, 60.0]  # seconds


def transient_db_error(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry condition: the task failed on a lost or refused database connection."""
    try:
        state.result()
    except OperationalError:
        return True
    except DBAPIError as exc:
        return bool(exc.connection_invalidated)
    except BaseException:
        return False
    return False
