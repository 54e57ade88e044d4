from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table, Text

from dukcapil_shared.messaging import add_messaging_tables

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
    Column("decided_by", String(100)),
    Column("decision_note", Text),
    Column("missing_items", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_reviews_queue", "status", "received_at"),
)

outbox, inbox = add_messaging_tables(metadata)
