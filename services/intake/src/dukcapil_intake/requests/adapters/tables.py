from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from dukcapil_intake.tables import metadata

requests = Table(
    "requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("type", String(40), nullable=False),
    Column("status", String(30), nullable=False),
    Column("applicant", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("delivery", JSON, nullable=False),
    Column("kecamatan_code", String(8), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("operator", String(100)),
    Column("office", String(100)),
    Column("flags", JSON, nullable=False, server_default="[]"),
    Column("required_attachments", JSON, nullable=False, server_default="[]"),
    Column("access_code_version", Integer, nullable=False, server_default="1", comment="Which code opens it"),
    Column("document_id", String(36), comment="The document in force, which the holder may fetch"),
    Column("document_number", String(40)),
    Column("follows_request_id", String(36), comment="The request whose document led to this one (a follow-on)"),
    Column("follows_number", String(40)),
    Column("follows_type", String(40)),
    Index("ix_requests_follows", "follows_request_id"),
    Index("ix_requests_status_submitted", "status", "submitted_at"),
    Index("ix_requests_kecamatan_submitted", "kecamatan_code", "submitted_at"),
    Index("ix_requests_status_updated", "status", "updated_at"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("kind", String(60), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(60), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False, comment="SHA-256 of the submitted body"),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

recording_bookings = Table(
    "recording_bookings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("nik", String(16), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kecamatan_code", String(8), nullable=False),
    Column("appointment_date", Date, nullable=False),
    Column("queue_number", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kecamatan_code", "appointment_date", "queue_number"),
)

recording_counters = Table(
    "recording_counters",
    metadata,
    Column("kecamatan_code", String(8), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

request_history = Table(
    "request_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("status", String(30)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False),
    Column(
        "recorded_at",
        DateTime(timezone=True),
        server_default=func.now(),
        comment="When intake recorded the step (its transaction's time); empty for steps recorded before 2026-12-05",
    ),
)

request_counters = Table(
    "request_counters",
    metadata,
    Column("kecamatan_code", String(8), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last_value", Integer, nullable=False),
)
