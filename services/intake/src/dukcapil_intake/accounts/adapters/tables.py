from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table

from dukcapil_intake.tables import metadata

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
