from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table, Text

from dukcapil_intake.tables import metadata


def _public_event_log(name: str, comment: str) -> Table:
    """A retained log of the events for agencies in one variant (contracts/public.py). It is also an outbox
    (the relay's columns), relayed to its own exchange; replays to an agency read it again later."""
    return Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True, comment="The public event's id, the same in both logs"),
        Column("routing_key", String(100), nullable=False, comment="<event type>.<kecamatan code>"),
        Column(
            "subject",
            String(60),
            nullable=False,
            comment="The document number (CloudEvents subject, AMQP correlation id); its events leave in order",
        ),
        Column("body", Text, nullable=False, comment="The CloudEvents envelope as JSON, exactly as published"),
        Column("event_type", String(60), nullable=False, comment="e.g. death.registered.v1"),
        Column("region_code", String(13), nullable=False, comment="The kecamatan that registered it"),
        Column("request_id", String(36), nullable=False, comment="Intake's request; never published"),
        Column("occurred_at", DateTime(timezone=True), nullable=False, comment="The CloudEvents time"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("last_error", Text),
        Column("published_at", DateTime(timezone=True)),
        Index(f"ix_{name}_pending", "published_at", "next_attempt_at"),
        Index(f"ix_{name}_subject", "subject"),
        Index(f"ix_{name}_occurred", "occurred_at", "event_type"),
        comment=comment,
    )


public_events = _public_event_log("public_events", "Events for agencies, identity numbers masked: dukcapil.public")

identified_public_events = _public_event_log(
    "identified_public_events", "Events for agencies, identity numbers in full: dukcapil.public.identified"
)

agencies = Table(
    "agencies",
    metadata,
    Column(
        "name", String(30), primary_key=True, comment="Its broker user is agency-<name>, its queues agency.<name>.*"
    ),
    Column("event_types", JSON, nullable=False, comment="The public event types it is entitled to"),
    Column("region_prefixes", JSON, nullable=False, comment='The region codes it is entitled to, e.g. ["36.02"]'),
    Column("identified", Boolean, nullable=False, comment="Whether it receives NIKs and KK numbers in full"),
    Column("onboarded_at", DateTime(timezone=True), nullable=False),
    Column("onboarded_by", String(100), nullable=False),
)
