"""Opt-out list import speed: ``python -m bench.optout_import [--rows 20000] [--pg URL]``.

N customers, then a CSV listing all their phones: the first import opts every one out, the
second (the same file) changes nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from revisit.db.engine import create_db_engine
from revisit.db.tables import CUSTOMERS
from revisit.entry.engine import open_engine
from revisit.outcomes.optout_import import import_opt_outs


def run(url: str, n: int, folder: Path) -> str:
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(CUSTOMERS), [
            {"customer_id": f"O{i:07d}", "name": "客户", "phone": f"+86139{i:08d}",
             "store_id": "default", "consent_sms": True, "language": "zh",
             "phone_invalid": False}
            for i in range(n)
        ])  # fmt: skip
    path = folder / "optouts.csv"
    path.write_text("手机号\n" + "".join(f"139{i:08d}\n" for i in range(n)), encoding="utf-8")
    started = time.perf_counter()
    first = import_opt_outs(engine, path)
    middle = time.perf_counter()
    again = import_opt_outs(engine, path)
    done = time.perf_counter()
    engine.dispose()
    return (
        f"{url.split(':')[0]}: {n:,} rows, {first.added:,} opted out in {middle - started:.2f} s "
        f"({n / (middle - started):,.0f} rows/s); again: {again.added} added in "
        f"{done - middle:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--pg", help="an empty PostgreSQL database URL to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(run(f"sqlite:///{tmp}/bench.db", args.rows, Path(tmp)))
        if args.pg:
            engine = create_db_engine(args.pg)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            engine.dispose()
            print(run(args.pg, args.rows, Path(tmp)))


if __name__ == "__main__":
    main()
