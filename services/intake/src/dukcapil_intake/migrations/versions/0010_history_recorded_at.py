"""when intake recorded each step of a request's history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 02:10:00.000000

The lifecycle subscription writes no inbox row (the history is its inbox): this is the time an inbox row would have
given, when intake took the step, next to the step's own time (`occurred_at`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    comment = "When intake recorded the step (its transaction's time); empty for steps recorded before 2026-12-05"
    if _on_sqlite():
        # SQLite adds no column whose default is the time: the table is copied with it, which gives the earlier
        # steps the migration's time; they keep none, as on PostgreSQL.
        with op.batch_alter_table("request_history", recreate="always") as batch_op:
            batch_op.add_column(
                sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), comment=comment)
            )
        op.execute(sa.text("UPDATE request_history SET recorded_at = NULL"))
        return
    # Added empty, then given its default: the earlier steps stay empty and the table is not rewritten.
    op.add_column("request_history", sa.Column("recorded_at", sa.DateTime(timezone=True), comment=comment))
    op.alter_column("request_history", "recorded_at", server_default=sa.func.now())


def downgrade() -> None:
    with op.batch_alter_table("request_history", recreate="always" if _on_sqlite() else "auto") as batch_op:
        batch_op.drop_column("recorded_at")


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
