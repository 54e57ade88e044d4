"""The outbox, inbox and dead-letter tables every service keeps in its own database."""

from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text


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


def add_dead_letter_table(metadata: MetaData) -> Table:
    """Where the service parks the messages it gave up on, until an operator replays or discards them."""
    return Table(
        "dead_letters",
        metadata,
        Column(
            "id",
            String(36),
            primary_key=True,
            comment="The dead letter's own id: the same message may be parked again after a replay",
        ),
        Column("message_id", String(100), comment="The parked message's id (the event id)"),
        Column("original_queue", String(200), nullable=False, comment="The queue it failed in; replays go back there"),
        Column("routing_key", String(200), nullable=False, comment="Its routing key when first published"),
        Column("subject", String(100), comment="The request id it concerns (CloudEvents subject), when known"),
        Column("body", Text, nullable=False),
        Column("body_encoding", String(10), nullable=False, comment="utf-8, or base64 for a body that is not text"),
        Column("content_type", String(100)),
        Column("headers", JSON, nullable=False, comment="The AMQP headers as received, x-death included"),
        Column("error", Text, nullable=False, comment="Why it failed, personal data masked"),
        Column("attempts", Integer, nullable=False),
        Column("first_failure_at", DateTime(timezone=True), nullable=False),
        Column("last_failure_at", DateTime(timezone=True), nullable=False),
        Column("parked_at", DateTime(timezone=True), nullable=False),
        Column("status", String(10), nullable=False, comment="parked, replayed or discarded"),
        Column("resolved_at", DateTime(timezone=True)),
        Column("resolved_by", String(100)),
        Column("resolution_reason", Text),
        Index("ix_dead_letters_status", "status", "parked_at"),
        Index("ix_dead_letters_subject", "subject"),
        Index("ix_dead_letters_message", "message_id"),
    )
