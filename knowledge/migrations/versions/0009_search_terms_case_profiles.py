"""each keyword token's document frequency, kept by the writers (a query no longer counts the
matches of its words); similar-case profiles (a visit indexed before has none until it is indexed
again: its profile is read from Chroma meanwhile)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:00:00.000000
"""

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_terms",
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column("term", sa.Text(), primary_key=True),
        sa.Column("docs", sa.Integer(), nullable=False),
    )
    op.create_table(
        "case_profiles",
        sa.Column(
            "visit_id",
            sa.String(length=32),
            sa.ForeignKey("visits.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
    )
    for kind, table in (("utterance", "search_utterances"), ("visit", "search_visits")):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(
                f"INSERT INTO search_terms (kind, term, docs) SELECT '{kind}', word, ndoc "
                f"FROM ts_stat('SELECT tsv FROM {table}')"
            )
        else:
            _count_terms(kind, table)


def _count_terms(kind: str, table: str) -> None:
    """Each stored token's document count, read from the documents' own token lists."""
    df: Counter[str] = Counter()
    for (tokens,) in op.get_bind().execute(sa.text(f"SELECT tokens FROM {table}")):
        df.update(set(tokens.split()))
    rows = [{"kind": kind, "term": t, "docs": n} for t, n in sorted(df.items())]
    if rows:
        op.get_bind().execute(
            sa.text("INSERT INTO search_terms (kind, term, docs) VALUES (:kind, :term, :docs)"),
            rows,
        )


def downgrade() -> None:
    op.drop_table("case_profiles")
    op.drop_table("search_terms")
