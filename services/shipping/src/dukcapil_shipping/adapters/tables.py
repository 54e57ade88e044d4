from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

from dukcapil_shared.messaging import add_messaging_tables

metadata = MetaData()

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, unique=True, comment="One shipment per request"),
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
    Index("ix_shipments_tracked", "method", "status", "last_polled_at"),
    Index("ix_shipments_booking", "status", "next_booking_at"),
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

outbox, inbox = add_messaging_tables(metadata)
