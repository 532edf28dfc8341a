"""Bad uploads and unknown ids get a clear 4xx and harm nothing stored before."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration


def upload(api: TestClient, name: str, data: bytes, **fields: str):  # type: ignore[no-untyped-def]
    return api.post("/api/visits", files={"file": (name, data)}, data=fields)


def assert_error(res, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == status, res.text
    err = res.json()["error"]
    assert err["code"] == code
    assert len(err["message"]) > 10


def test_pdf_renamed_mp3_is_refused_as_not_audio(api: TestClient) -> None:
    res = upload(api, "fake.mp3", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    assert_error(res, 415, "not_audio")
    assert "mp3" in res.json()["error"]["message"]


def test_text_named_wav_is_refused_as_not_audio(api: TestClient) -> None:
    assert_error(upload(api, "notes.wav", "这不是音频文件".encode() * 50), 415, "not_audio")


def test_empty_file_is_refused(api: TestClient) -> None:
    assert_error(upload(api, "empty.wav", b""), 422, "empty_file")


def test_corrupt_audio_is_refused(api: TestClient) -> None:
    res = upload(api, "corrupt.mp3", b"ID3" + os.urandom(4000))
    assert res.status_code in (415, 422)
    assert res.json()["error"]["code"] in ("not_audio", "corrupt_audio")


def test_file_over_the_size_limit_is_refused(api: TestClient) -> None:
    assert_error(upload(api, "big.wav", b"RIFF" + b"\0" * (2 * 1024 * 1024)), 413, "file_too_large")


def test_recording_over_the_duration_limit_is_refused(api: TestClient) -> None:
    # the `api` fixture allows 20 s; the fixture recording lasts 37 s
    res = upload(api, "en_short.mp3", (FIXTURES / "en_short.mp3").read_bytes())
    assert_error(res, 422, "too_long")


@pytest.mark.parametrize(
    ("field", "value"),
    [("segment", "vip"), ("language", "fr"), ("visit_date", "next tuesday"), ("speakers", "99")],
)
def test_malformed_fields_are_refused(api: TestClient, field: str, value: str) -> None:
    res = upload(api, "tone.flac", (FIXTURES / "tone.flac").read_bytes(), **{field: value})
    assert_error(res, 422, "invalid_field")
    assert field in res.json()["error"]["message"]


def test_missing_file_is_an_invalid_request(api: TestClient) -> None:
    assert_error(api.post("/api/visits", data={"title": "x"}), 422, "invalid_request")


def test_unknown_visit_id_is_not_found(api: TestClient) -> None:
    for path in ("", "/transcript", "/audio"):
        assert_error(api.get(f"/api/visits/0123456789abcdef{path}"), 404, "visit_not_found")
    assert_error(api.delete("/api/visits/0123456789abcdef"), 404, "visit_not_found")


def test_bad_upload_leaves_stored_visits_untouched(api: TestClient) -> None:
    good = upload(api, "tone.flac", (FIXTURES / "tone.flac").read_bytes())
    assert good.status_code == 202
    upload(api, "fake.mp3", b"%PDF-1.4 nothing")
    upload(api, "empty.wav", b"")
    listed = api.get("/api/visits").json()
    assert [v["id"] for v in listed["items"]] == [good.json()["id"]]
    assert api.get(f"/api/visits/{good.json()['id']}/audio").status_code == 200


def test_every_supported_format_is_accepted(api: TestClient) -> None:
    for name in (
        "tone.ogg",
        "tone.flac",
        "tone.m4a",
        "tone.webm",
        "tone.mp4",
        "en_one_speaker.mp3",
    ):
        res = upload(api, name, (FIXTURES / name).read_bytes())
        assert res.status_code == 202, (name, res.text)
        assert res.json()["duration_s"] > 2


def test_unreadable_transcript_is_refused(api: TestClient) -> None:
    assert_error(upload(api, "call.json", b'{"segments": 3}'), 422, "invalid_transcript")
    assert_error(upload(api, "call.srt", b"\n\n"), 422, "invalid_transcript")


def test_unknown_route_has_the_error_shape(api: TestClient) -> None:
    assert_error(api.get("/api/nothing-here"), 404, "not_found")
