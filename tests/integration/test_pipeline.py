"""End to end through a real Celery worker, on embedded defaults and on PostgreSQL + Redis."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evals.errorrate import wer_en
from evals.roles import role_accuracy
from tests.conftest import FIXTURES, Stack, assert_stores_agree

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_upload_is_transcribed_to_done_with_timings_and_formats(stack: Stack) -> None:
    res = stack.upload(
        FIXTURES / "en_short.mp3",
        title="Packing line",
        rep="Alex",
        customer="Acme",
        segment="strategic",
        visit_date="2026-03-03",
        language="auto",
    )
    assert res.status_code == 202, res.text
    body = res.json()
    assert body["status"] == "queued" and body["rep"] == "Alex"

    visit = stack.wait(body["id"])
    assert visit["status"] == "done", visit["error"]
    assert visit["progress"] == 1.0
    assert visit["language"] == "en"
    assert set(visit["timings"]) >= {"transcribe"}

    transcript = stack.client.get(f"/api/visits/{body['id']}/transcript").json()
    assert transcript["language"] == "en" and transcript["duration"] > 30
    segs = transcript["segments"]
    assert all({"start", "end", "speaker", "role", "text"} <= set(s) for s in segs)
    truth = json.loads((FIXTURES / "en_short.mp3.truth.json").read_text())
    edits, n = wer_en(
        " ".join(t["text"] for t in truth["turns"]), " ".join(s["text"] for s in segs)
    )
    assert edits / n < 0.25

    srt = stack.client.get(f"/api/visits/{body['id']}/transcript?format=srt")
    assert srt.status_code == 200 and "-->" in srt.text
    vtt = stack.client.get(f"/api/visits/{body['id']}/transcript?format=vtt")
    assert vtt.text.startswith("WEBVTT")


def test_audio_streams_with_range_requests(stack: Stack) -> None:
    visit = stack.upload(FIXTURES / "tone.flac").json()
    res = stack.client.get(f"/api/visits/{visit['id']}/audio", headers={"Range": "bytes=0-99"})
    assert res.status_code == 206
    assert len(res.content) == 100
    assert res.headers["content-range"].startswith("bytes 0-99/")


def test_duplicate_upload_returns_existing_visit(stack: Stack) -> None:
    first = stack.upload(FIXTURES / "tone.ogg")
    second = stack.upload(FIXTURES / "tone.ogg")
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    listed = stack.client.get("/api/visits", params={"q": "tone", "limit": 100}).json()
    assert [v["id"] for v in listed["items"]].count(first.json()["id"]) == 1


def test_silence_only_fails_with_no_speech(stack: Stack) -> None:
    visit = stack.upload(FIXTURES / "silence_10s.wav").json()
    done = stack.wait(visit["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "no_speech"
    res = stack.client.get(f"/api/visits/{visit['id']}/transcript")
    assert res.status_code == 409 and res.json()["error"]["code"] == "visit_failed"


def test_transcript_import_skips_transcription(stack: Stack, tmp_path: Path) -> None:
    srt = tmp_path / "call.srt"
    srt.write_text(
        "1\n00:00:00,000 --> 00:00:03,000\nRep: How is the new line running?\n\n"
        "2\n00:00:03,500 --> 00:00:08,000\nCustomer: Deliveries are always late.\n",
        encoding="utf-8",
    )
    res = stack.upload(srt, language="en")
    assert res.status_code == 202, res.text
    visit = stack.wait(res.json()["id"])
    assert visit["status"] == "done" and visit["source"] == "transcript"
    steps = {s["step"]: s["status"] for s in visit["steps"]}
    assert steps["transcribe"] == "skipped"
    segs = stack.client.get(f"/api/visits/{visit['id']}/transcript").json()["segments"]
    assert [s["role"] for s in segs] == ["rep", "customer"]
    assert segs[1]["text"] == "Deliveries are always late."


def test_delete_removes_audio_rows_and_transcript(stack: Stack) -> None:
    visit = stack.upload(FIXTURES / "tone.m4a").json()
    stack.wait(visit["id"])
    audio_files = list(stack.settings.audio_dir.rglob(f"{visit['id']}*"))
    assert audio_files
    assert stack.client.delete(f"/api/visits/{visit['id']}").status_code == 204
    assert not any(p.exists() for p in audio_files)
    res = stack.client.get(f"/api/visits/{visit['id']}")
    assert res.status_code == 404 and res.json()["error"]["code"] == "visit_not_found"
    assert stack.client.get(f"/api/visits/{visit['id']}/transcript").status_code == 404


def test_list_filters_and_paginates(stack: Stack) -> None:
    stack.upload(FIXTURES / "tone.webm", rep="Filter Rep", segment="basic")
    page = stack.client.get("/api/visits", params={"rep": "Filter Rep", "limit": 1}).json()
    assert page["total"] == 1 and page["limit"] == 1
    assert page["items"][0]["segment"] == "basic"
    past_end = stack.client.get("/api/visits", params={"offset": 10_000}).json()
    assert past_end["items"] == [] and past_end["total"] >= 1
    bad = stack.client.get("/api/visits", params={"segment": "vip"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_killed_worker_leaves_the_visit_to_another_worker(stack: Stack) -> None:
    stack.stop()
    stack.workers.clear()
    first = stack.start_worker()
    visit = stack.upload(FIXTURES / "zh_noisy.mp3", language="zh").json()
    stack.wait(visit["id"], until=("transcribing", "done", "failed"), timeout=120)
    time.sleep(1.0)
    stack.kill_worker(first)
    killed = time.monotonic()
    stack.start_worker()

    def attempts() -> int:
        steps = stack.client.get(f"/api/visits/{visit['id']}").json()["steps"]
        return int(next(s for s in steps if s["step"] == "transcribe")["attempts"])

    while attempts() < 2 and time.monotonic() - killed < 90:
        time.sleep(0.5)
    assert time.monotonic() - killed <= 60  # taken over within a minute
    done = stack.wait(visit["id"], timeout=240)
    assert done["status"] == "done", done["error"]
    transcribe = next(s for s in done["steps"] if s["step"] == "transcribe")
    assert transcribe["attempts"] == 2  # done once more, not again and again
    segs = stack.client.get(f"/api/visits/{visit['id']}/transcript").json()["segments"]
    starts = [s["start"] for s in segs]
    assert starts == sorted(starts) and len(starts) == len(set(starts))
    assert_stores_agree(stack.settings, chroma_shared=True)  # one Chroma for both stacks


def test_visit_gets_speakers_roles_and_analysis(stack: Stack) -> None:
    res = stack.upload(
        FIXTURES / "zh_short.mp3",
        title="备件回访",
        rep="王磊",
        visit_date="2026-03-03",
        language="zh",
    )
    visit = stack.wait(res.json()["id"])
    assert visit["status"] == "done", visit["error"]
    segs = stack.client.get(f"/api/visits/{visit['id']}/transcript").json()["segments"]
    truth = json.loads((FIXTURES / "zh_short.mp3.truth.json").read_text())
    assert role_accuracy(truth["turns"], segs) > 0.8
    speakers = stack.client.get(f"/api/visits/{visit['id']}/speakers").json()
    assert speakers["num_speakers"] == 2
    assert sorted(speakers["roles"].values()) == ["customer", "rep"]

    report = stack.client.get(f"/api/visits/{visit['id']}/analysis").json()
    assert report["summary"]
    assert -1 <= report["sentiment_score"] <= 1 and report["curve"]
    customer = [u for u in report["utterances"] if u["role"] == "customer"]
    assert any(u["labels"] for u in customer)
    assert all(not u["labels"] for u in report["utterances"] if u["role"] == "rep")
    due = [a["due"] for a in report["actions"] if a["owner"] == "rep"]
    assert "2026-03-13" in due
    drafts = stack.client.get(
        "/api/ledger", params={"visit_id": visit["id"], "status": "draft"}
    ).json()["items"]
    assert len(drafts) == len(report["actions"])  # each waits for its owner to confirm it

    coaching = stack.client.get(f"/api/visits/{visit['id']}/coaching").json()
    assert 0 < coaching["talk_ratio"] < 1
    assert coaching["questions"] and all(q["spin"] for q in coaching["questions"])
    assert 0 <= coaching["scorecard"]["total"] <= 100
    assert all("evidence" in item for item in coaching["scorecard"]["items"])
