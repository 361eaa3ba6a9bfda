"""outcomes and callers: store callers, a call contact's caller and callback origin,
one return per contact

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stores", sa.Column("callers", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    )
    op.add_column(
        "contacts", sa.Column("caller", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    )
    # A plain column on SQLite (ALTER TABLE cannot add a constraint there); PostgreSQL
    # also checks the reference.
    op.add_column("contacts", sa.Column("callback_of", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            "fk_contacts_callback_of", "contacts", "contacts", ["callback_of"], ["id"]
        )
    op.create_index(
        "uq_outcomes_return",
        "outcomes",
        ["contact_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'return'"),
        postgresql_where=sa.text("kind = 'return'"),
    )


def downgrade() -> None:
    op.drop_index("uq_outcomes_return", table_name="outcomes")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_contacts_callback_of", "contacts", type_="foreignkey")
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_column("callback_of")
        batch_op.drop_column("caller")
    with op.batch_alter_table("stores") as batch_op:
        batch_op.drop_column("callers")
