"""the event a contact is about (a campaign never contacts the same event twice)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("event_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    op.create_index(
        "ix_contacts_campaign_event", "contacts", ["campaign", "customer_id", "event_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_campaign_event", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("event_key")
