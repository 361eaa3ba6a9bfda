"""the day's plan, computed once: kept plans and the data versions they were made from

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("name", _text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "day_plans",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("store_id", _text(), nullable=False),
        sa.Column("campaign", _text(), nullable=False),
        sa.Column("fingerprint", _text(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dropped_vehicles", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("as_of", "store_id", "campaign"),
    )
    op.create_table(
        "day_cohort_sizes",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("store_id", _text(), nullable=False),
        sa.Column("cohort", _text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("fingerprint", _text(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "store_id", "cohort"),
    )
    op.create_table(
        "day_plan_rows",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("campaign", _text(), nullable=False),
        sa.Column("customer_id", _text(), nullable=False),
        sa.Column("store_id", _text(), nullable=False),
        sa.Column("status", _text(), nullable=False),
        sa.Column("reason", _text(), nullable=True),
        sa.Column("cohort", _text(), nullable=False),
        sa.Column("phone", _text(), nullable=True),
        sa.Column("language", _text(), nullable=False),
        sa.Column("vins", _text(), nullable=False),
        sa.Column("details", _text(), nullable=False),
        sa.Column("event_key", _text(), nullable=True),
        sa.Column("last_useful_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("as_of", "campaign", "customer_id"),
    )
    op.create_index(
        "ix_day_plan_rows_counts",
        "day_plan_rows",
        ["as_of", "campaign", "status", "reason", "store_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_day_plan_rows_counts", table_name="day_plan_rows")
    op.drop_table("day_plan_rows")
    op.drop_table("day_cohort_sizes")
    op.drop_table("day_plans")
    op.drop_table("data_versions")
