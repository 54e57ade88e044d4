"""dead letters

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:47:57.983296

"""

from collections.abc import Sequence

from alembic import op

from dukcapil_shared import migrations as platform

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform.create_dead_letters(op)


def downgrade() -> None:
    platform.drop_dead_letters(op)
