"""ended staff sessions, staff sessions and sign-in failures

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dukcapil_shared import migrations as platform

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform.create_ended_sessions(op)
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=36), nullable=False, comment="The sid of the session's tokens"),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, comment="When its token expires"),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "end_reason", sa.String(length=20), nullable=True, comment="signed_out, deactivated or password_changed"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_sessions_open", "staff_sessions", ["username", "ended_at", "expires_at"])
    op.create_table(
        "sign_in_failures",
        sa.Column("username", sa.String(length=64), nullable=False, comment="As typed: names that exist or not alike"),
        sa.Column("failures", sa.Integer(), nullable=False, comment="Failed sign-ins in a row"),
        sa.Column("lockouts", sa.Integer(), nullable=False, comment="Lockouts in a row, each longer"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_index("ix_staff_sessions_open", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    platform.drop_ended_sessions(op)
