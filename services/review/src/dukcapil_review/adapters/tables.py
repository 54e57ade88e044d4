from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table, Text

from dukcapil_shared.auth.access import add_access_log_table
from dukcapil_shared.auth.sessions import add_ended_sessions_table
from dukcapil_shared.messaging import add_dead_letter_table, add_messaging_tables

metadata = MetaData()

reviews = Table(
    "reviews",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("request_number", String(40), nullable=False),
    Column("request_type", String(40), nullable=False),
    Column("applicant", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("delivery", JSON, nullable=False),
    Column("kecamatan_code", String(8), nullable=False),
    Column("status", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("subject_nik", String(16), nullable=False, comment="Whose document it is: the deceased's NIK for a death"),
    Column("channel", String(20), nullable=False),
    Column("operator", String(100)),
    Column("office", String(200)),
    Column("attachments", JSON, nullable=False, comment="Metadata of the scans; their content stays at intake"),
    Column("required_attachments", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("prechecks", JSON, nullable=False),
    Column("claimed_by", String(100)),
    Column("claim_expires_at", DateTime(timezone=True)),
    Column("decided_by", String(100)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_note", Text),
    Column("missing_items", JSON, nullable=False),
    Column("register_attempts", Integer, nullable=False, server_default="0"),
    Column("register_retry_at", DateTime(timezone=True), comment="When to consult the population register again"),
    Column("version", Integer, nullable=False),
    Index("ix_reviews_queue", "status", "received_at"),
    Index("ix_reviews_due", "status", "due_at"),
    Index("ix_reviews_kecamatan", "kecamatan_code", "status", "received_at"),
    Index("ix_reviews_person", "request_type", "subject_nik"),
    Index("ix_reviews_register_retry", "register_retry_at"),
)

review_audit = Table(
    "review_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False, comment="A reviewer, citizen, an operator, system or policy:auto"),
    Column("action", String(40), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_review_audit_request", "request_id", "id"),
    comment="Append-only: rows are never updated or deleted",
)

outbox, inbox = add_messaging_tables(metadata)
dead_letters = add_dead_letter_table(metadata)
access_log = add_access_log_table(metadata)
ended_sessions = add_ended_sessions_table(metadata)
