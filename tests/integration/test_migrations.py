"""Schema migrations on SQLite and PostgreSQL: 0004 adds the visit outcome to existing rows, 0009
counts the document frequencies of the keyword rows already stored, 0012 moves the stored
vectors into the search rows."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from knowledge.db import MIGRATIONS, SchemaBehind, check_schema, make_engine, migrate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_database")
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def visit_columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("visits")}
    finally:
        engine.dispose()


def insert_visit(conn: Connection, visit_id: str, title: str) -> None:
    """A visit row with only the columns every migration has had."""
    conn.execute(
        text(
            "INSERT INTO visits (id, title, language_hint, source, filename, content_sha256,"
            " size_bytes, status, progress, warnings, created_at, updated_at) VALUES"
            " (:id, :title, 'auto', 'audio', 'a.mp3', :sha, 0, 'done', 1.0, '[]',"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"id": visit_id, "title": title, "sha": visit_id.ljust(64, "0")},
    )


def test_outcome_column_is_added_to_a_database_with_visits(database_url: str) -> None:
    cfg = alembic_config(database_url)
    command.upgrade(cfg, "0003")
    assert "outcome" not in visit_columns(database_url)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        insert_visit(conn, "old", "Before 0004")
    migrate(database_url)
    assert "outcome" in visit_columns(database_url)
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT outcome FROM visits WHERE id = 'old'")) is None
        conn.execute(text("UPDATE visits SET outcome = 'won' WHERE id = 'old'"))
    command.downgrade(cfg, "0003")
    assert "outcome" not in visit_columns(database_url)
    migrate(database_url)
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT title FROM visits WHERE id = 'old'")) == "Before 0004"
    engine.dispose()


def test_migrations_form_one_line_with_one_head() -> None:
    """Two migrations written at once from the same parent would leave `upgrade head` ambiguous."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_document_frequencies_are_counted_from_the_stored_keyword_rows(database_url: str) -> None:
    cfg = alembic_config(database_url)
    migrate(database_url)
    command.downgrade(cfg, "0008")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        insert_visit(conn, "kw", "Before 0009")
        for i, tokens in enumerate(["售后 太慢 售后", "price late", "售后 price"]):
            conn.execute(
                text(
                    "INSERT INTO search_utterances (id, visit_id, role, sentiment, tokens, length,"
                    " language, rep, customer, industry, segment, labels) VALUES (:id, 'kw', '',"
                    " '', :tokens, 2, 'zh', '', '', '', '', ' ')"
                ),
                {"id": f"kw:{i}", "tokens": tokens},
            )
    migrate(database_url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT term, docs FROM search_terms WHERE kind = 'utterance'"))
        assert {term: n for term, n in rows} == {"售后": 2, "太慢": 1, "price": 2, "late": 1}
        conn.execute(text("DELETE FROM visits WHERE id = 'kw'"))
    engine.dispose()


def test_stored_vectors_move_into_the_search_rows_and_back(database_url: str) -> None:
    cfg = alembic_config(database_url)
    migrate(database_url)
    command.downgrade(cfg, "0011")
    engine = make_engine(database_url)
    blob = bytes(range(16))
    with engine.begin() as conn:
        insert_visit(conn, "vec", "Before 0012")
        conn.execute(
            text(
                "INSERT INTO search_utterances (id, visit_id, role, sentiment, tokens, length,"
                " language, rep, customer, industry, segment, labels) VALUES ('vec:0', 'vec', '',"
                " '', 'price', 1, 'en', '', '', '', '', ' ')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO search_documents (id, kind, visit_id, document, vector) VALUES"
                " ('vec:0', 'utterance', 'vec', '[\"price\", {}]', :blob)"
            ),
            {"blob": blob},
        )
    migrate(database_url)
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT vector FROM search_utterances WHERE id = 'vec:0'")) == blob
    command.downgrade(cfg, "0011")
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT vector FROM search_documents WHERE id = 'vec:0'")) == blob
        conn.execute(text("DELETE FROM visits WHERE id = 'vec'"))
    migrate(database_url)
    engine.dispose()


def test_a_process_refuses_a_database_behind_its_schema(database_url: str) -> None:
    cfg = alembic_config(database_url)
    migrate(database_url)
    engine = make_engine(database_url)
    check_schema(engine)  # at the newest: let be
    command.downgrade(cfg, "0011")
    with pytest.raises(SchemaBehind, match="at migration 0011 .* run `visitlens migrate`"):
        check_schema(engine)
    migrate(database_url)
    engine.dispose()
