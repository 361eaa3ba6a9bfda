"""contacts: the reason phone_invalid is invalid_phone

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:30:00

The dispatcher excluded a pending contact whose phone had been found invalid with the
reason ``phone_invalid``; the contact rules (and the README) call it ``invalid_phone``, the
one name of :class:`revisit.campaigns.statuses.ExclusionReason` now. Stored rows are
rewritten. The downgrade keeps them: the two names meant the same.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text("UPDATE contacts SET reason = 'invalid_phone' WHERE reason = 'phone_invalid'")
    )


def downgrade() -> None:
    pass
