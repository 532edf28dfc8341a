"""insights covering index on label rows; one ledger entry per visit and source

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:40:00.000000
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("utterance_labels", schema=None) as batch_op:
        # covers the insights GROUP BY label, visit (count, max confidence) without table reads
        batch_op.create_index(
            "ix_utterance_labels_label_visit",
            ["label", "visit_id", "confidence", "idx"],
            unique=False,
        )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        # NULL sources (free entries) stay unconstrained on SQLite and PostgreSQL
        batch_op.create_index("ux_ledger_visit_source", ["visit_id", "source"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ux_ledger_visit_source")
    with op.batch_alter_table("utterance_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_utterance_labels_label_visit")
