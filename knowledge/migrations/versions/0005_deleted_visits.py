"""deleted visits, so every API process can drop them from its in-memory search index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_visits",
        sa.Column("visit_id", sa.String(length=32), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("visit_id"),
    )
    op.create_index("ix_deleted_visits_deleted_at", "deleted_visits", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_deleted_visits_deleted_at", table_name="deleted_visits")
    op.drop_table("deleted_visits")
