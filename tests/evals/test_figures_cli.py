"""`visitlens figures`: which folders it reports, under which names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import evals.figures
import nlp.classify
import nlp.commitments
from api.cli import cli


def test_own_folders_are_reported_under_their_names_and_missing_ones_left_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def three_way(prompts: Path, classifier: Any, acts: Any, folders: Any, *rest: Any) -> Any:
        seen.update(folders)
        return {}

    monkeypatch.setattr(evals.figures, "three_way", three_way)
    monkeypatch.setattr(nlp.classify, "load_classifier", lambda prompts: None)
    monkeypatch.setattr(nlp.commitments, "load_act_classifier", lambda prompts: None)
    (tmp_path / "mine").mkdir()
    args = ["figures", "--dev", str(tmp_path / "mine"), "--dev", str(tmp_path / "gone")]
    res = CliRunner().invoke(cli, [*args, "--blind", str(tmp_path / "nope")])
    assert res.exit_code == 0, res.output
    assert seen == {"mine": tmp_path / "mine", "blind": None, "corpus": None}
