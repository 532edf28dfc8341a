from __future__ import annotations

from pathlib import Path

from knowledge.glossary import load_hotwords


def test_terms_are_collected_from_teams_in_order_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text(
        "description: x\nsales:\n  terms: [ERP, 彩超]\nservice:\n  terms: [ERP, SLA]\n",
        encoding="utf-8",
    )
    assert load_hotwords(path) == ("ERP", "彩超", "SLA")


def test_missing_glossary_means_no_terms(tmp_path: Path) -> None:
    assert load_hotwords(tmp_path / "none.yaml") == ()
