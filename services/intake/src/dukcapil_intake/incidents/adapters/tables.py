from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text

from dukcapil_intake.tables import metadata

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(36), primary_key=True, comment="The dead letter's id at the service that parked it"),
    Column("request_id", String(36), nullable=False, comment="No foreign key: a dead letter may name an unknown id"),
    Column("service", String(20), nullable=False, comment="The stage that parked the message"),
    Column("queue", String(200), nullable=False),
    Column("event_type", String(100), nullable=False, comment="The parked message's routing key"),
    Column("error", Text, nullable=False, comment="Personal data masked by the stage"),
    Column("attempts", Integer, nullable=False),
    Column("first_failure_at", DateTime(timezone=True)),
    Column("last_failure_at", DateTime(timezone=True)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False, comment="open or resolved"),
    Column("resolution", String(10), comment="replayed or discarded"),
    Column("resolved_by", String(100)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolution_reason", Text),
    Index("ix_incidents_status", "status", "opened_at"),
    Index("ix_incidents_request", "request_id", "opened_at"),
)
