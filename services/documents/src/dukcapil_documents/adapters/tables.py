from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table

from dukcapil_shared.messaging import add_messaging_tables

metadata = MetaData()

documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, unique=True, comment="One document per request"),
    Column("request_number", String(40), nullable=False),
    Column("type", String(40), nullable=False),
    Column("number", String(40), nullable=False, unique=True),
    Column("holder", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("kecamatan_code", String(8), nullable=False),
    Column("verification_token", String(64), nullable=False, unique=True),
    Column("checksum_sha256", String(64), nullable=False),
    Column("storage_key", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
)

document_counters = Table(
    "document_counters",
    metadata,
    Column("type_code", String(10), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

outbox, inbox = add_messaging_tables(metadata)
