"""dissatisfied-customer tickets (one per contact, for the store's service manager)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        _text("customer_id", False),
        _text("store_id", False),
        _text("campaign", False),
        _text("vin", True),
        _text("visit_id", True),
        _text("advisor", True),
        _text("category", False),
        _text("words", False),
        _text("caller", True),
        _text("owner", False),
        _text("status", False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        _text("resolution", True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", name="uq_tickets_contact"),
    )
    op.create_index("ix_tickets_store_status", "tickets", ["store_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_tickets_store_status", table_name="tickets")
    op.drop_table("tickets")
