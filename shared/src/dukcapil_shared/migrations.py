"""The platform tables every service keeps in its own database, created and dropped by each service's Alembic
migrations through these functions: the outbox and inbox (messaging/tables.py), the dead letters (ops), the access
log (auth/access.py) and the ended staff sessions (auth/sessions.py). They match those Table definitions; a change
to a platform table is a new function here and a new revision in every service."""

from typing import Any

import sqlalchemy as sa

Operations = Any
"""alembic.op, as a migration sees it."""


def create_inbox(op: Operations) -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )


def drop_inbox(op: Operations) -> None:
    op.drop_table("inbox")


def create_outbox(op: Operations) -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.String(length=36),
            nullable=False,
            comment="The event id (CloudEvents id, AMQP message id)",
        ),
        sa.Column("routing_key", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=36), nullable=False, comment="The request id"),
        sa.Column("body", sa.Text(), nullable=False, comment="The CloudEvents envelope as JSON"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["published_at", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_subject", ["subject"], unique=False)


def drop_outbox(op: Operations) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_subject")
        batch_op.drop_index("ix_outbox_pending")
    op.drop_table("outbox")


def create_dead_letters(op: Operations) -> None:
    op.create_table(
        "dead_letters",
        sa.Column(
            "id",
            sa.String(length=36),
            nullable=False,
            comment="The dead letter's own id: the same message may be parked again after a replay",
        ),
        sa.Column("message_id", sa.String(length=100), nullable=True, comment="The parked message's id (the event id)"),
        sa.Column(
            "original_queue",
            sa.String(length=200),
            nullable=False,
            comment="The queue it failed in; replays go back there",
        ),
        sa.Column("routing_key", sa.String(length=200), nullable=False, comment="Its routing key when first published"),
        sa.Column(
            "subject",
            sa.String(length=100),
            nullable=True,
            comment="The request id it concerns (CloudEvents subject), when known",
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "body_encoding",
            sa.String(length=10),
            nullable=False,
            comment="utf-8, or base64 for a body that is not text",
        ),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False, comment="The AMQP headers as received, x-death included"),
        sa.Column("error", sa.Text(), nullable=False, comment="Why it failed, personal data masked"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False, comment="parked, replayed or discarded"),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolution_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_dead_letters_message", ["message_id"], unique=False)
        batch_op.create_index("ix_dead_letters_status", ["status", "parked_at"], unique=False)
        batch_op.create_index("ix_dead_letters_subject", ["subject"], unique=False)


def drop_dead_letters(op: Operations) -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_subject")
        batch_op.drop_index("ix_dead_letters_status")
        batch_op.drop_index("ix_dead_letters_message")
    op.drop_table("dead_letters")


def create_access_log(op: Operations) -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False, comment="The scope the access was allowed under"),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False, comment="What was opened: ids only, never a NIK"),
        sa.Column("reason", sa.String(length=300), nullable=False, comment="Why, in the words of the member of staff"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_time", ["accessed_at"], unique=False)
        batch_op.create_index("ix_access_log_user", ["username", "accessed_at"], unique=False)


def drop_access_log(op: Operations) -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_user")
        batch_op.drop_index("ix_access_log_time")
    op.drop_table("access_log")


def create_ended_sessions(op: Operations) -> None:
    op.create_table(
        "ended_sessions",
        sa.Column("session_id", sa.String(length=36), nullable=False, comment="A staff token's sid"),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, comment="Its tokens have expired by then"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_ended_sessions_expires_at", "ended_sessions", ["expires_at"])


def drop_ended_sessions(op: Operations) -> None:
    op.drop_index("ix_ended_sessions_expires_at", table_name="ended_sessions")
    op.drop_table("ended_sessions")
