"""keyword search in the database's own full-text engine, and per-language centroids; no
more tombstones of deleted visits (no API process holds a copy of the index to update)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("search_utterances", "search_visits")


def _filterable() -> list[sa.Column[object]]:
    return [
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("rep", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("industry", sa.Text(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=True),
    ]


def _row() -> sa.Column[object]:
    return sa.Column("row", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def _visit(*, unique: bool) -> sa.Column[object]:
    return sa.Column(
        "visit_id",
        sa.String(length=32),
        sa.ForeignKey("visits.id", ondelete="CASCADE"),
        nullable=False,
        unique=unique,
        index=not unique,
    )


def upgrade() -> None:
    op.drop_index("ix_deleted_visits_deleted_at", table_name="deleted_visits")
    op.drop_table("deleted_visits")
    op.create_table(
        "search_utterances",
        _row(),
        sa.Column("id", sa.String(length=64), nullable=False, unique=True),
        _visit(unique=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        *_filterable(),
    )
    op.create_table("search_visits", _row(), _visit(unique=True), *_filterable())
    op.create_table(
        "search_centroids",
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column("language", sa.String(length=8), primary_key=True),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("vector_sum", sa.LargeBinary(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _sqlite_fts(table)
    else:
        for table in TABLES:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
                "(array_to_tsvector(string_to_array(tokens, ' '))) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_tsv ON {table} USING gin (tsv)")


def _sqlite_fts(table: str) -> None:
    """An external-content FTS5 table over table.tokens, kept in step by triggers (a visit's
    cascade delete fires them too)."""
    fts = f"{table}_fts"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(tokens, content='{table}', "
        "content_rowid='row', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, tokens) VALUES (new.row, new.tokens); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, tokens) VALUES ('delete', old.row, old.tokens); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, tokens) VALUES ('delete', old.row, old.tokens); "
        f"INSERT INTO {fts}(rowid, tokens) VALUES (new.row, new.tokens); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    op.drop_table("search_centroids")
    op.drop_table("search_visits")
    op.drop_table("search_utterances")
    op.create_table(
        "deleted_visits",
        sa.Column("visit_id", sa.String(length=32), primary_key=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deleted_visits_deleted_at", "deleted_visits", ["deleted_at"])
