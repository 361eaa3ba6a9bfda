"""pending status callbacks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:40:00

Status callbacks that arrive before their message is recorded wait here until it is; an
index finds the messages still without a final status (status polling).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pending_callbacks_sid", "pending_callbacks", ["provider_sid"])
    op.create_index("ix_messages_status_created", "messages", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_status_created", table_name="messages")
    op.drop_index("ix_pending_callbacks_sid", table_name="pending_callbacks")
    op.drop_table("pending_callbacks")
