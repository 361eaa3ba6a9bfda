"""contacts: details (what the contact is about)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:31:00

One entry per cohort member of the contact: its vehicle, due date and why (``due_by``), and
the cohort's own fields, as the plan had them. Call sheets rendered from the outbox tell
the cohort's due dates instead of estimating them again. Rows written before have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("details")
