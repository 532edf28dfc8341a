"""objection playbooks: answers with their vectors, trainers' pins, hides and notes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "playbook_answers",
        sa.Column("visit_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("answer_idx", sa.Integer(), nullable=False),
        sa.Column("objection_idx", sa.Integer(), nullable=False),
        sa.Column("objection_text", sa.Text(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sentiment_delta", sa.Float(), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("commitment", sa.Boolean(), nullable=False),
        sa.Column("objection_vector", sa.LargeBinary(), nullable=False),
        sa.Column("answer_vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("visit_id", "label", "answer_idx"),
    )
    op.create_index("ix_playbook_answers_label_visit", "playbook_answers", ["label", "visit_id"])
    op.create_index("ix_playbook_answers_created_at", "playbook_answers", ["created_at"])
    op.create_table(
        "playbook_curation",
        sa.Column("visit_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("answer_idx", sa.Integer(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("visit_id", "label", "answer_idx"),
    )
    op.create_index("ix_playbook_curation_updated_at", "playbook_curation", ["updated_at"])


def downgrade() -> None:
    op.drop_table("playbook_curation")
    op.drop_index("ix_playbook_answers_created_at", table_name="playbook_answers")
    op.drop_index("ix_playbook_answers_label_visit", table_name="playbook_answers")
    op.drop_table("playbook_answers")
