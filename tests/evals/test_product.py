"""`visitlens eval` on a small folder laid out like the shared corpus, through the real API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from api.client import Client
from evals import product as ev
from tests.conftest import FIXTURES, make_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LABELS = {  # gold labels of the customer turns, by turn index
    "fx-en": {1: ["pain.quality"], 3: ["pain.service"], 5: ["need.integration", "pain.price"]},
    "fx-zh": {1: ["pain.delivery"], 3: ["pain.price"], 5: ["need.integration", "pain.process"]},
}
ACTIONS = {
    "fx-en": [
        {"owner": "rep", "text": "send a spare parts plan and a new quote", "due": "2026-03-13"}
    ],
    "fx-zh": [{"owner": "rep", "text": "把对接方案和新报价一起发给您", "due": "2026-03-20"}],
}


def _corpus(root: Path) -> Path:
    """visits/, audio/, utterances.json and queries.json, made from the test recordings."""
    (root / "visits").mkdir(parents=True)
    (root / "audio").mkdir()
    for vid, fixture, lang in (("fx-en", "en_short", "en"), ("fx-zh", "zh_short", "zh")):
        truth = json.loads((FIXTURES / f"{fixture}.mp3.truth.json").read_text(encoding="utf-8"))
        shutil.copy(FIXTURES / f"{fixture}.mp3", root / "audio" / f"{vid}.mp3")
        (root / "audio" / f"{vid}.mp3.truth.json").write_text(
            json.dumps(truth | {"id": vid}, ensure_ascii=False), encoding="utf-8"
        )
        turns: list[dict[str, Any]] = []
        for t in truth["turns"]:
            turn: dict[str, Any] = {"speaker": t["speaker"], "text": t["text"]}
            if t["speaker"] == "customer":
                turn |= {"labels": LABELS[vid].get(t["index"], []), "sentiment": "negative"}
            turns.append(turn)
        visit = {
            "id": vid,
            "language": lang,
            "title": vid,
            "date": "2026-03-10",
            "rep": "Lin",
            "customer": {"company": f"{vid} Ltd", "industry": "packaging", "segment": "basic"},
            "turns": turns,
            "actions": ACTIONS[vid],
            "similar_to": ["fx-zh" if vid == "fx-en" else "fx-en"],
            "summary": "Spare parts arrive late and prices went up. The rep offered a local stock.",
        }
        (root / "visits" / f"{vid}.json").write_text(json.dumps(visit, ensure_ascii=False))
    utterances = [
        {
            "id": "u1",
            "language": "en",
            "text": "Your invoices are always wrong.",
            "labels": ["pain.price"],
            "sentiment": "negative",
            "risk": [],
        },
        {
            "id": "u2",
            "language": "zh",
            "text": "我们想要一个手机上能看的报表。",
            "labels": ["need.features"],
            "sentiment": "neutral",
            "risk": [],
        },
    ]
    queries = [
        {
            "query": "spare parts arrive too slowly",
            "language": "en",
            "kind": "utterance",
            "relevant": ["fx-zh"],
            "filters": {},
        },
        {
            "query": "财务软件对接",
            "language": "zh",
            "kind": "visit",
            "relevant": ["fx-zh", "fx-en"],
            "filters": {"segment": "basic"},
        },
    ]
    (root / "utterances.json").write_text(json.dumps(utterances, ensure_ascii=False))
    (root / "queries.json").write_text(json.dumps(queries, ensure_ascii=False))
    return root


def test_eval_scores_transcripts_roles_labels_actions_and_search(
    tmp_path: Path, chroma_url: str
) -> None:
    corpus = _corpus(tmp_path / "corpus")
    stack = make_stack(tmp_path / "stack", "embedded", chroma_url=chroma_url)
    client = Client("http://testserver")
    client.http = stack.client  # the same httpx interface, in process
    try:
        stack.start_worker()
        asr = ev.eval_asr(client, corpus)
        assert asr["failures"] == 0 and len(asr["rows"]) == 2
        assert asr["summary"]["en"]["error_rate"] < 0.3
        assert asr["summary"]["zh"]["role_accuracy"] > 0.8

        labels = ev.eval_labels(client, corpus)
        assert labels["n"] == 10 and 0 <= labels["macro_f1"] <= 1
        assert "pain.price" in labels["per_label_prf"]

        spoken = ev.eval_transcript_labels(client, corpus, "clean")
        assert spoken["turns"] == 8 and 0 <= spoken["micro_f1"] <= 1  # 4 customer turns each
        assert set(spoken["per_label_prf"]) >= {"pain.price", "pain.delivery", "pain.quality"}

        actions = ev.eval_actions(client, corpus)
        assert actions["gold"] == 2 and actions["recall"] >= 0.5

        search = ev.eval_search(client, corpus)
        assert set(search) == {"hybrid", "dense", "bm25", "similar"}
        assert search["hybrid"]["recall@5"] == 1.0  # two visits: everything is in the top 5
        assert search["similar"] == {
            "visits": 2,
            "hit@3": 1.0,
            "recall@3": 1.0,
            "free_text_visits": 2,
            "free_text_hit@3": 1.0,  # the other visit is the only one left
            "free_text_recall@3": 1.0,
        }
    finally:
        stack.stop()
        stack.client.__exit__(None, None, None)
