from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from dukcapil_shared.auth.access import add_access_log_table
from dukcapil_shared.auth.sessions import add_ended_sessions_table
from dukcapil_shared.messaging import add_dead_letter_table, add_messaging_tables

metadata = MetaData()

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, index=True, comment="One shipment per document of the request"),
    Column("document_number", String(40), comment="The document it carries; empty for shipments made before 0007"),
    Column("replaces_document_number", String(40), comment="A corrected document's: the old paper to hand over"),
    Column("method", String(20), nullable=False),
    Column("status", String(30), nullable=False),
    Column("courier", String(20)),
    Column("service", String(20)),
    Column("airway_bill", String(40)),
    Column("recipient", String(200), nullable=False),
    Column("address", JSON),
    Column("kecamatan_code", String(8), nullable=False),
    Column("version", Integer, nullable=False, comment="Raised by every change; guards against lost updates"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_polled_at", DateTime(timezone=True)),
    Column("parcel", JSON, comment="What the courier is asked to carry: receiver, address, phone, contents"),
    Column("booking_attempts", Integer, nullable=False, server_default="0", comment="Failed courier bookings"),
    Column("next_booking_at", DateTime(timezone=True), comment="When the booking loop asks the courier next"),
    Column("last_booking_error", Text),
    Column("traceparent", String(55), comment="W3C trace context of the issued document, for ShipmentCreated"),
    Column("last_moved_at", DateTime(timezone=True), comment="When the tracking last showed something new"),
    Index("ix_shipments_tracked", "method", "status", "last_polled_at"),
    Index("ix_shipments_booking", "status", "next_booking_at"),
    Index("ix_shipments_quiet", "status", "last_moved_at"),
    UniqueConstraint("document_number", name="uq_shipments_document_number"),
)

tracking = Table(
    "tracking",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shipment_id", String(36), ForeignKey("shipments.id"), nullable=False, index=True),
    Column("status", String(30), nullable=False),
    Column("description", Text, nullable=False),
    Column("courier_code", String(20), comment="The courier's own code; empty for the office's steps"),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)

shipment_flags = Table(
    "shipment_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shipment_id", String(36), ForeignKey("shipments.id"), nullable=False),
    Column("reason", String(40), nullable=False, comment="address_unserviceable, stuck_in_transit, ..."),
    Column("detail", Text, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("shipment_id", "reason", name="uq_shipment_flags_reason"),
    Index("ix_shipment_flags_reason", "reason", "shipment_id"),
)

requested_deliveries = Table(
    "requested_deliveries",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("applicant_name", String(200), nullable=False),
    Column("applicant_nik", String(16), nullable=False),
    Column("method", String(20), nullable=False),
    Column("household", JSON, nullable=False, comment="Names on the applicant's family card given with the request"),
    Column("submitted", Boolean, nullable=False, comment="False while only the issued document is known"),
    Column("destination_code", String(20), comment="The courier's tariff code of the address"),
    Column("postal_code", String(5)),
    Column("address_problem", Text, comment="Why the courier cannot serve the address; empty if it can"),
    Column("address_flagged", Boolean, nullable=False, comment="ShipmentFlagged was announced for the address"),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

outbox, inbox = add_messaging_tables(metadata)
dead_letters = add_dead_letter_table(metadata)
access_log = add_access_log_table(metadata)
ended_sessions = add_ended_sessions_table(metadata)
