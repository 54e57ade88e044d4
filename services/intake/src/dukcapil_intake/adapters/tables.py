from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
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
)

request_counters = Table(
    "request_counters",
    metadata,
    Column("kecamatan_code", String(8), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, index=True, comment="The request, or the e-KTP booking"),
    Column("event_id", String(36), nullable=False, comment="The event the notice tells about"),
    Column("kind", String(30), nullable=False, comment="received, approved, shipped, ... (domain/notices.py)"),
    Column("channel", String(10), nullable=False, comment="email or sms"),
    Column("recipient", String(200), nullable=False),
    Column("subject", String(200)),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False, comment="pending, sent or failed (given up)"),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "channel"),
    Index("ix_notifications_due", "status", "next_attempt_at"),
)

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

outbox, inbox = add_messaging_tables(metadata)
staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("full_name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("kecamatan_code", String(8), comment="The kecamatan an operator serves; empty for regency-wide roles"),
    Column("password_hash", String(200), nullable=False, comment="argon2id"),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(36), primary_key=True, comment="The sid of the session's tokens"),
    Column("username", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, comment="When its token expires"),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("end_reason", String(20), nullable=True, comment="signed_out, deactivated or password_changed"),
    Index("ix_staff_sessions_open", "username", "ended_at", "expires_at"),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("username", String(64), primary_key=True, comment="As typed: names that exist or not alike"),
    Column("failures", Integer, nullable=False, comment="Failed sign-ins in a row"),
    Column("lockouts", Integer, nullable=False, comment="Lockouts in a row, each longer"),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
)

dead_letters = add_dead_letter_table(metadata)
access_log = add_access_log_table(metadata)
ended_sessions = add_ended_sessions_table(metadata)
