"""access log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 21:54:37.110226

"""

from collections.abc import Sequence

from alembic import op

from dukcapil_shared import migrations as platform

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform.create_access_log(op)


def downgrade() -> None:
    platform.drop_access_log(op)
