"""access log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 21:54:48.869344

"""

from collections.abc import Sequence

from alembic import op

from dukcapil_shared import migrations as platform

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform.create_access_log(op)


def downgrade() -> None:
    platform.drop_access_log(op)
