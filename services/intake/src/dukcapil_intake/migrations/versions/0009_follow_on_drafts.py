"""follow-on drafts, and the request each request follows from

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_on_drafts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=30),
            nullable=False,
            comment="kk_remove_deceased, kk_new_after_move, ktp_el_recording",
        ),
        sa.Column(
            "origin_request_id", sa.String(length=36), nullable=False, comment="The request whose document led to it"
        ),
        sa.Column("origin_number", sa.String(length=40), nullable=False),
        sa.Column("origin_type", sa.String(length=40), nullable=False),
        sa.Column("origin_document_number", sa.String(length=40), nullable=False),
        sa.Column("kecamatan_code", sa.String(length=8), nullable=False),
        sa.Column("applicant", sa.JSON(), nullable=False),
        sa.Column("delivery", sa.JSON(), nullable=False),
        sa.Column("subject_niks", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True, comment="The request's details as they will be submitted"),
        sa.Column(
            "family", sa.JSON(), server_default="[]", nullable=False, comment="The family card as the register has it"
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("prefill_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_prefill_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("result_id", sa.String(length=36), nullable=True, comment="The request (or e-KTP booking) it became"),
        sa.Column("result_number", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin_request_id", "kind"),
    )
    op.create_index("ix_follow_on_drafts_prefill", "follow_on_drafts", ["status", "next_prefill_at"])
    op.create_index("ix_follow_on_drafts_expiry", "follow_on_drafts", ["status", "expires_at"])
    op.create_index("ix_follow_on_drafts_office", "follow_on_drafts", ["kecamatan_code", "created_at"])
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "follows_request_id",
                sa.String(length=36),
                nullable=True,
                comment="The request whose document led to this one (a follow-on)",
            )
        )
        batch_op.add_column(sa.Column("follows_number", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("follows_type", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_requests_follows", ["follows_request_id"])


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_follows")
        batch_op.drop_column("follows_type")
        batch_op.drop_column("follows_number")
        batch_op.drop_column("follows_request_id")
    op.drop_index("ix_follow_on_drafts_office", table_name="follow_on_drafts")
    op.drop_index("ix_follow_on_drafts_expiry", table_name="follow_on_drafts")
    op.drop_index("ix_follow_on_drafts_prefill", table_name="follow_on_drafts")
    op.drop_table("follow_on_drafts")
