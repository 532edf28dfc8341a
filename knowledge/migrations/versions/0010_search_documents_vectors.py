"""each search row keeps its document and unit vector, so that a search asks Chroma for the
nearest ids alone and scores keyword and pre-filtered candidates without it (a row written
before has neither until its visit is indexed again, e.g. by `visitlens reindex`: search reads
those from Chroma meanwhile)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("search_utterances", "search_visits")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("document", sa.JSON(), nullable=True))
        op.add_column(table, sa.Column("vector", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    for table in TABLES:  # SQLite's own DROP COLUMN (3.35+) keeps the FTS triggers
        op.drop_column(table, "vector")
        op.drop_column(table, "document")
