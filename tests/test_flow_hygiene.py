"""What the flows retry (only what cannot send twice), and what they log (never a whole
phone number)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from tests.test_flows import ROOT, prefect_harness  # noqa: F401  (a fixture)

# A whole number: E.164, or a bare Chinese mobile of 11 digits.
WHOLE_PHONE = re.compile(r"\+\d{8,15}|(?<!\d)1[3-9]\d{9}(?!\d)")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every record of the prefect and revisit loggers (flow and task run loggers too),
    formatted with any traceback."""
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("prefect", "revisit", "flows", "")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler.lines
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_only_tasks_that_cannot_send_are_retried() -> None:
    from flows.attribute_returns import attribute as attribute_nightly
    from flows.attribute_returns import report_rows
    from flows.campaigns import daily_reminders, reconcile_deliveries, run_campaign_task
    from flows.dispatch import dispatch_run_flow
    from flows.import_dms import attribute, import_files

    for t in (import_files, attribute, attribute_nightly, report_rows):
        assert t.retries > 0 and t.retry_condition_fn is not None, t.name
    assert run_campaign_task.retries == 0
    for f in (daily_reminders, reconcile_deliveries, dispatch_run_flow):
        assert f.retries in (0, None), f.name


class _State:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def result(self) -> Any:
        raise self.exc


def test_retried_on_a_lost_connection_only() -> None:
    from flows.retries import transient_db_error
    from revisit.errors import ConfigError

    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert transient_db_error(None, None, _State(lost))
    assert not transient_db_error(None, None, _State(ConfigError("bad campaign file")))
    assert not transient_db_error(None, None, _State(IntegrityError("INSERT", {}, Exception())))
    assert not transient_db_error(None, None, _State(ValueError("x")))


def test_flow_logs_never_show_a_whole_phone(
    prefect_harness: None,  # noqa: F811
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: Any,
    logs: list[str],
) -> None:
    from flows.campaigns import daily_reminders
    from flows.import_dms import RejectedRows, import_dms
    from tests.test_runs import MORNING, dealership

    dealership(engine)
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone\nP1,张伟,13912345678\nP2,李娜,+86139123456\n"
        "P3,王芳,+12125550100x\nP4,赵磊,+442079460958\n,缺编号,13912345679\n",
        encoding="utf-8",
    )
    with pytest.raises(RejectedRows):
        import_dms(paths=[str(tmp_path / "customers.csv")], database_url=db_url)
    for key, value in {
        "REVISIT_OUTPUT_DIR": str(tmp_path / "out"),
        "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"), "TWILIO_ACCOUNT_SID": "",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    daily_reminders(as_of=dt.date(2026, 11, 23), now=MORNING, database_url=db_url)
    text = "\n".join(logs)
    assert "customers.csv:3: phone" in text  # the problems were logged: the scan saw them
    assert "Finished in state" in text  # and so were the runs
    assert WHOLE_PHONE.findall(text) == []


def test_a_database_error_does_not_show_the_row_it_was_writing(engine: Engine) -> None:
    from sqlalchemy import insert

    from revisit.db.tables import CUSTOMERS

    row = {"customer_id": "D1", "name": "张伟", "phone": "+8613912345678", "store_id": "none"}
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        conn.execute(insert(CUSTOMERS), [row, row])
    assert WHOLE_PHONE.findall(str(raised.value)) == []
