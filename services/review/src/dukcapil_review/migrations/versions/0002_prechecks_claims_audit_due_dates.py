"""prechecks, claims, audit, due dates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:58:48.246620

"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The defaults of REVIEW_SLA_HOURS when this migration was written: reviews already queued get these.
_SLA_HOURS = {"biodata_wni": 24}
_FALLBACK_SLA_HOURS = 72
_DECIDED = ("approved", "rejected", "info_requested")
_APPEND_ONLY = "review_audit is append-only: its rows are never updated or deleted"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "review_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor",
            sa.String(length=100),
            nullable=False,
            comment="A reviewer, citizen, an operator, system or policy:auto",
        ),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        comment="Append-only: rows are never updated or deleted",
    )
    with op.batch_alter_table("review_audit", schema=None) as batch_op:
        batch_op.create_index("ix_review_audit_request", ["request_id", "id"], unique=False)
    _forbid_changes_to_the_audit()

    # Added as nullable, filled for the reviews already there, then made NOT NULL.
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "subject_nik",
                sa.String(length=16),
                nullable=True,
                comment="Whose document it is: the deceased's NIK for a death",
            )
        )
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("operator", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("office", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "attachments",
                sa.JSON(),
                nullable=True,
                comment="Metadata of the scans; their content stays at intake",
            )
        )
        batch_op.add_column(sa.Column("required_attachments", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("flags", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("prechecks", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))

    _fill_existing_reviews()

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        for name in ("due_at", "subject_nik", "channel", "attachments", "required_attachments", "flags", "prechecks"):
            batch_op.alter_column(name, nullable=False)
        batch_op.create_index("ix_reviews_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_reviews_kecamatan", ["kecamatan_code", "status", "received_at"], unique=False)
        batch_op.create_index("ix_reviews_person", ["request_type", "subject_nik"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_person")
        batch_op.drop_index("ix_reviews_kecamatan")
        batch_op.drop_index("ix_reviews_due")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("prechecks")
        batch_op.drop_column("flags")
        batch_op.drop_column("required_attachments")
        batch_op.drop_column("attachments")
        batch_op.drop_column("office")
        batch_op.drop_column("operator")
        batch_op.drop_column("channel")
        batch_op.drop_column("subject_nik")
        batch_op.drop_column("due_at")

    with op.batch_alter_table("review_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_review_audit_request")

    op.drop_table("review_audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS review_audit_append_only()")


def _forbid_changes_to_the_audit() -> None:
    # A table rebuilt by a later batch migration on SQLite loses these triggers: create them again there.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION review_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER review_audit_append_only BEFORE UPDATE OR DELETE ON review_audit "
            "FOR EACH ROW EXECUTE FUNCTION review_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER review_audit_no_truncate BEFORE TRUNCATE ON review_audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION review_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER review_audit_no_{event.lower()} BEFORE {event} ON review_audit "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )


def _fill_existing_reviews() -> None:
    reviews = sa.table(
        "reviews",
        sa.column("request_id", sa.String()),
        sa.column("request_type", sa.String()),
        sa.column("applicant", sa.JSON()),
        sa.column("details", sa.JSON()),
        sa.column("status", sa.String()),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("subject_nik", sa.String()),
        sa.column("channel", sa.String()),
        sa.column("attachments", sa.JSON()),
        sa.column("required_attachments", sa.JSON()),
        sa.column("flags", sa.JSON()),
        sa.column("prechecks", sa.JSON()),
        sa.column("decided_at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(reviews)).all():
        hours = _SLA_HOURS.get(row.request_type, _FALLBACK_SLA_HOURS)
        deceased = (row.details or {}).get("deceased") or {}
        subject = deceased.get("nik") if row.request_type == "akta_kematian" else None
        if not (isinstance(subject, str) and len(subject) == 16 and subject.isdigit()):
            subject = row.applicant["nik"]
        connection.execute(
            sa.update(reviews)
            .where(reviews.c.request_id == row.request_id)
            .values(
                due_at=row.received_at + timedelta(hours=hours),
                subject_nik=subject,
                channel="online",
                attachments=[],
                required_attachments=[],
                flags=[],
                prechecks=[],
                decided_at=row.updated_at if row.status in _DECIDED else None,
            )
        )
