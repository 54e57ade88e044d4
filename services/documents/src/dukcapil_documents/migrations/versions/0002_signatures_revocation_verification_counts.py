"""signatures, revocation, verification counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:16:06.853390

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the unique constraint on request_id unnamed: PostgreSQL named it itself, and on SQLite batch mode
# names the reflected constraint by this convention so that it can be dropped.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_CURRENT = sa.text("status = 'valid'")


def _request_id_unique() -> str:
    return "documents_request_id_key" if op.get_bind().dialect.name == "postgresql" else "uq_documents_request_id"


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint(_request_id_unique(), type_="unique")
        batch_op.alter_column(
            "request_id", existing_type=sa.String(length=36), existing_nullable=False, comment=None,
            existing_comment="One document per request",
        )  # fmt: skip
        batch_op.add_column(
            sa.Column(
                "delivery",
                sa.JSON(),
                nullable=True,
                comment="The approved delivery, announced again with a correction",
            )
        )
        batch_op.add_column(
            sa.Column("signature", sa.Text(), server_default="", nullable=False, comment="Detached signature, base64")
        )
        batch_op.add_column(sa.Column("signing_key_id", sa.String(length=32), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column(
                "status",
                sa.String(length=20),
                server_default="valid",
                nullable=False,
                comment="valid, superseded or revoked",
            )
        )
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "revoked_by",
                sa.String(length=200),
                nullable=True,
                comment="Who approved the revocation or correction",
            )
        )
        batch_op.add_column(sa.Column("revocation_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "superseded_by",
                sa.String(length=36),
                nullable=True,
                comment="The corrected document that replaces this one",
            )
        )
        batch_op.add_column(
            sa.Column(
                "supersedes",
                sa.String(length=36),
                nullable=True,
                comment="The document this correction replaces",
            )
        )
        batch_op.add_column(sa.Column("verification_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_documents_request_id", ["request_id"], unique=False)
        batch_op.create_index(
            "uq_documents_current_request",
            ["request_id"],
            unique=True,
            sqlite_where=_CURRENT,
            postgresql_where=_CURRENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("uq_documents_current_request", sqlite_where=_CURRENT, postgresql_where=_CURRENT)
        batch_op.drop_index("ix_documents_request_id")
        batch_op.drop_column("last_verified_at")
        batch_op.drop_column("verification_count")
        batch_op.drop_column("supersedes")
        batch_op.drop_column("superseded_by")
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("status")
        batch_op.drop_column("signing_key_id")
        batch_op.drop_column("signature")
        batch_op.drop_column("delivery")
        batch_op.alter_column(
            "request_id", existing_type=sa.String(length=36), existing_nullable=False,
            comment="One document per request",
        )  # fmt: skip
        # Fails while a request has more than one document (a correction): there is no way back without losing one.
        batch_op.create_unique_constraint(_request_id_unique(), ["request_id"])
