"""each search document as Chroma holds it and its unit vector, so that a search asks Chroma
for the nearest ids alone and scores keyword and pre-filtered candidates without it (a visit
indexed before has none until it is indexed again, e.g. by `visitlens reindex`: search reads
its documents from Chroma meanwhile); indexes on the filters that few documents pass, and on
PostgreSQL a trigram index for the label and risk filters (LIKE '% pain.service %')

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
INDEXED = ("rep", "customer", "day")


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.String(length=64), primary_key=True),  # first: looked up by id
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column(
            "visit_id",
            sa.String(length=32),
            sa.ForeignKey("visits.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    for table in TABLES:
        for column in INDEXED:
            op.create_index(f"ix_{table}_{column}", table, [column])
    if op.get_bind().dialect.name == "postgresql":  # pg_trgm is a trusted extension (PG 13+)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_search_utterances_labels ON search_utterances "
            "USING gin (labels gin_trgm_ops)"
        )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_search_utterances_labels")
    for table in TABLES:
        for column in INDEXED:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.drop_table("search_documents")
