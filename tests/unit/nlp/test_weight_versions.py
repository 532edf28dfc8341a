"""Which weights a process uses: the shipped defaults, or the current trained version."""

from __future__ import annotations

import json
import re
from pathlib import Path

from structlog.testing import capture_logs

from nlp.weight_versions import (
    MANIFEST,
    MARKER,
    VERSIONS,
    WEIGHT_FILES,
    CurrentWeights,
    publish,
    resolve,
    staging_dir,
)


def _prompts(tmp_path: Path) -> Path:
    prompts = tmp_path / "prompts"
    (prompts / "classifier").mkdir(parents=True)
    return prompts


def _train(models_dir: Path, content: bytes = b"weights") -> Path:
    """A version as `visitlens train` writes it, with made-up weight files."""
    staged = staging_dir(models_dir)
    for name in WEIGHT_FILES:
        (staged / name).write_bytes(content + name.encode())
    manifest = publish(
        staged,
        encoders={name: ["usem3"] for name in WEIGHT_FILES},
        training_data={name: "abc123" for name in WEIGHT_FILES},
    )
    return models_dir / VERSIONS / manifest.version


def test_shipped_weights_are_used_when_nothing_was_trained(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path)
    assert resolve(tmp_path / "models", prompts) == prompts / "classifier"


def test_a_trained_version_is_used_and_described_by_its_manifest(tmp_path: Path) -> None:
    prompts, models = _prompts(tmp_path), tmp_path / "models"
    version = _train(models)
    assert resolve(models, prompts) == version
    assert (models / VERSIONS / MARKER).read_text().strip() == version.name
    manifest = json.loads((version / MANIFEST).read_text())
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{12}", manifest["version"])
    assert set(manifest["files"]) == set(WEIGHT_FILES)
    assert manifest["encoders"]["weights.npz"] == ["usem3"]
    assert manifest["training_data"]["commitments.npz"] == "abc123"
    assert not [p for p in (models / VERSIONS).iterdir() if p.name.startswith(".training-")]


def test_the_newest_version_wins(tmp_path: Path) -> None:
    prompts, models = _prompts(tmp_path), tmp_path / "models"
    _train(models, b"first")
    second = _train(models, b"second")
    assert resolve(models, prompts) == second


def test_a_corrupt_version_falls_back_to_the_shipped_weights_with_a_warning(
    tmp_path: Path,
) -> None:
    prompts, models = _prompts(tmp_path), tmp_path / "models"
    version = _train(models)
    (version / "weights.npz").write_bytes(b"truncated")
    with capture_logs() as logs:
        assert resolve(models, prompts) == prompts / "classifier"
    (warning,) = [e for e in logs if e["event"] == "weights.version_unusable"]
    assert warning["log_level"] == "warning" and warning["version"] == version.name
    assert "differs from its manifest" in warning["reason"]


def test_a_missing_version_or_manifest_falls_back_with_a_warning(tmp_path: Path) -> None:
    prompts, models = _prompts(tmp_path), tmp_path / "models"
    version = _train(models)
    (version / MANIFEST).unlink()
    (models / VERSIONS / "gone").mkdir()
    for marked, reason in [(version.name, "unreadable"), ("absent", "unreadable"), ("..", "no")]:
        (models / VERSIONS / MARKER).write_text(marked)
        with capture_logs() as logs:
            assert resolve(models, prompts) == prompts / "classifier"
        assert reason in logs[0]["reason"], logs


def test_a_process_moves_to_a_version_published_after_it_started(tmp_path: Path) -> None:
    prompts, models = _prompts(tmp_path), tmp_path / "models"
    current = CurrentWeights()
    assert current(models, prompts) == prompts / "classifier"
    first = _train(models, b"first")
    assert current(models, prompts) == first
    (first / "weights.npz").write_bytes(b"changed")  # not looked at again: the marker is the same
    assert current(models, prompts) == first
    second = _train(models, b"second")
    assert current(models, prompts) == second
