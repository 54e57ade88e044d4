from sqlalchemy import JSON, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

from dukcapil_shared.messaging import add_messaging_tables

metadata = MetaData()

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
    Index("ix_requests_status_submitted", "status", "submitted_at"),
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
)

request_counters = Table(
    "request_counters",
    metadata,
    Column("kecamatan_code", String(8), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

outbox, inbox = add_messaging_tables(metadata)
