"""ended staff sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

from dukcapil_shared import migrations as platform

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform.create_ended_sessions(op)


def downgrade() -> None:
    platform.drop_ended_sessions(op)
