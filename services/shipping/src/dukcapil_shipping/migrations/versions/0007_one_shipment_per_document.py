"""one shipment per document: a corrected document is shipped too

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:30:00.000000

"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the unique constraint on request_id unnamed: PostgreSQL named it itself, and on SQLite batch mode
# names the reflected constraint by this convention so that it can be dropped.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


# SQLite drops a constraint by copying the table, and with foreign keys on (db.py) it refuses to drop the old copy
# while rows of these tables point at it: they wait in temporary tables meanwhile.
_CHILDREN = ("tracking", "shipment_flags")


def _request_id_unique() -> str:
    return "shipments_request_id_key" if op.get_bind().dialect.name == "postgresql" else "uq_shipments_request_id"


@contextmanager
def _children_set_aside() -> Iterator[None]:
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    for child in _CHILDREN:
        op.execute(f"CREATE TEMP TABLE set_aside_{child} AS SELECT * FROM {child}")
        op.execute(f"DELETE FROM {child}")
    yield
    for child in _CHILDREN:
        op.execute(f"INSERT INTO {child} SELECT * FROM set_aside_{child}")
        op.execute(f"DROP TABLE set_aside_{child}")


def upgrade() -> None:
    with _children_set_aside(), op.batch_alter_table("shipments", schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint(_request_id_unique(), type_="unique")
        batch_op.alter_column(
            "request_id", existing_type=sa.String(length=36), existing_nullable=False,
            comment="One shipment per document of the request", existing_comment="One shipment per request",
        )  # fmt: skip
        batch_op.add_column(
            sa.Column(
                "document_number",
                sa.String(length=40),
                nullable=True,
                comment="The document it carries; empty for shipments made before 0007",
            )
        )
        batch_op.add_column(
            sa.Column(
                "replaces_document_number",
                sa.String(length=40),
                nullable=True,
                comment="A corrected document's: the old paper to hand over",
            )
        )
        batch_op.create_index("ix_shipments_request_id", ["request_id"], unique=False)
        batch_op.create_unique_constraint("uq_shipments_document_number", ["document_number"])


def downgrade() -> None:
    with _children_set_aside(), op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_shipments_document_number", type_="unique")
        batch_op.drop_index("ix_shipments_request_id")
        batch_op.drop_column("replaces_document_number")
        batch_op.drop_column("document_number")
        batch_op.alter_column(
            "request_id", existing_type=sa.String(length=36), existing_nullable=False,
            comment="One shipment per request", existing_comment="One shipment per document of the request",
        )  # fmt: skip
        # Fails while a request has more than one shipment (a corrected document's): no way back without losing one.
        batch_op.create_unique_constraint(_request_id_unique(), ["request_id"])
