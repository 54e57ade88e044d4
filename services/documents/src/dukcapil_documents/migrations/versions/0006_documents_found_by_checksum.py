"""documents found by their file's SHA-256: the public check of an uploaded PDF

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_documents_checksum_sha256", "documents", ["checksum_sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_documents_checksum_sha256", table_name="documents")
