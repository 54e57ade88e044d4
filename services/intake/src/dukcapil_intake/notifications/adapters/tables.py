from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from dukcapil_intake.tables import metadata

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, index=True, comment="The request, or the e-KTP booking"),
    Column("event_id", String(36), nullable=False, comment="The event the notice tells about"),
    Column("kind", String(30), nullable=False, comment="received, approved, shipped, ... (domain/notices.py)"),
    Column("channel", String(10), nullable=False, comment="email or sms"),
    Column("recipient", String(200), nullable=False),
    Column("subject", String(200)),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False, comment="pending, sent or failed (given up)"),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "channel"),
    Index("ix_notifications_due", "status", "next_attempt_at"),
)
