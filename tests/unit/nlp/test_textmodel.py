"""The classifier's weights file: what an older file without latent-term heads still does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from nlp.textmodel import head_scores, label_probs, load_weights, save_weights
from nlp.weight_versions import LABEL_WEIGHTS, SHIPPED

PROMPTS = Path(__file__).resolve().parents[3] / "prompts"
LATENT = ("latent_rows", "latent_w", "latent_b", "latent_sent_w", "latent_sent_b")


def test_weights_saved_before_latent_terms_load_without_them_and_still_score(
    tmp_path: Path,
) -> None:
    shipped = load_weights(PROMPTS / SHIPPED / LABEL_WEIGHTS)
    older = tmp_path / "older.npz"
    save_weights(tmp_path / "full.npz", shipped)
    with np.load(tmp_path / "full.npz") as z:
        kept = {k: z[k] for k in z.files if not k.startswith("latent")}
    with older.open("wb") as f:
        np.savez_compressed(f, **kept)
    w = load_weights(older)
    assert all(getattr(w, name).size == 0 for name in LATENT)
    x = np.zeros((2, shipped.label_w.shape[0]), np.float32)
    ng = np.zeros((2, len(w.ngram_rows)), np.float32)
    h = head_scores(w, x, ng)
    assert not h.latent.any() and h.latent.shape == (2, len(w.label_ids))
    hyper = dataclasses.replace(w.hyper, latent_share=0.0)  # as an older file's settings read
    assert label_probs(h, hyper).shape == (2, len(w.label_ids))
