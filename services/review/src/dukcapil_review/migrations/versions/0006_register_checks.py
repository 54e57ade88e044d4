"""register checks: attempts and the next try

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 23:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("register_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "register_retry_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="When to consult the population register again",
            )
        )
        batch_op.create_index("ix_reviews_register_retry", ["register_retry_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_register_retry")
        batch_op.drop_column("register_retry_at")
        batch_op.drop_column("register_attempts")
