"""The outbox and inbox tables every service keeps in its own database."""

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text


def add_messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", String(36), primary_key=True, comment="The event id (CloudEvents id, AMQP message id)"),
        Column("routing_key", String(100), nullable=False),
        Column("subject", String(36), nullable=False, comment="The request id"),
        Column("body", Text, nullable=False, comment="The CloudEvents envelope as JSON"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("last_error", Text),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_pending", "published_at", "next_attempt_at"),
        Index("ix_outbox_subject", "subject"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(36), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    return outbox, inbox
