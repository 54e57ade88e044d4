from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table, Text, text

from dukcapil_shared.auth.access import add_access_log_table
from dukcapil_shared.auth.sessions import add_ended_sessions_table
from dukcapil_shared.messaging import add_dead_letter_table, add_messaging_tables

metadata = MetaData()

_CURRENT = text("status = 'valid'")

documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False),
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
    Column("delivery", JSON, nullable=True, comment="The approved delivery, announced again with a correction"),
    Column("signature", Text, nullable=False, server_default="", comment="Detached signature, base64"),
    Column("signing_key_id", String(32), nullable=False, server_default=""),
    Column("status", String(20), nullable=False, server_default="valid", comment="valid, superseded or revoked"),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(200), nullable=True, comment="Who approved the revocation or correction"),
    Column("revocation_recorded_by", String(100), comment="The document officer who recorded it (signed in)"),
    Column("revocation_reason", Text, nullable=True),
    Column("superseded_by", String(36), nullable=True, comment="The corrected document that replaces this one"),
    Column("supersedes", String(36), nullable=True, comment="The document this correction replaces"),
    Column("verification_count", Integer, nullable=False, server_default="0"),
    Column("last_verified_at", DateTime(timezone=True), nullable=True),
    Index("ix_documents_request_id", "request_id"),
    Index("ix_documents_checksum_sha256", "checksum_sha256"),
    # At most one current document per request; revoked and superseded ones stay beside it.
    Index(
        "uq_documents_current_request",
        "request_id",
        unique=True,
        sqlite_where=_CURRENT,
        postgresql_where=_CURRENT,
    ),
)

document_counters = Table(
    "document_counters",
    metadata,
    Column("type_code", String(10), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

number_reservations = Table(
    "number_reservations",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("request_type", String(40), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("reserved_at", DateTime(timezone=True), nullable=False),
    comment="Numbers taken for documents being drawn; a row ends when its document is issued",
)

outbox, inbox = add_messaging_tables(metadata)
dead_letters = add_dead_letter_table(metadata)
access_log = add_access_log_table(metadata)
ended_sessions = add_ended_sessions_table(metadata)
