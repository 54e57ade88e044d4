"""dead letters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 19:47:54.548422

"""

from collections.abc import Sequence

from alembic import op

from dukcapil_shared import migrations as platform

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform.create_dead_letters(op)


def downgrade() -> None:
    platform.drop_dead_letters(op)
