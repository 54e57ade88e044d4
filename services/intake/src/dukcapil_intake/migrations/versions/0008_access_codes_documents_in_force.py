"""access code versions, and the document in force for each request

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access_code_version", sa.Integer(), nullable=False, server_default="1", comment="Which code opens it"
            )
        )
        batch_op.add_column(
            sa.Column(
                "document_id",
                sa.String(length=36),
                nullable=True,
                comment="The document in force, which the holder may fetch",
            )
        )
        batch_op.add_column(sa.Column("document_number", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("document_number")
        batch_op.drop_column("document_id")
        batch_op.drop_column("access_code_version")
