"""The OpenAI-compatible /v1 routes through the official openai client, against the app served
on a port and a real Celery worker (embedded settings; one round trip on PostgreSQL + Redis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis
import sqlalchemy

from api.access import OPENAI_PREFIX, api_routes, rule_of
from api.app import OPENAI_ROUTERS
from evals.errorrate import wer_en
from evals.roles import role_accuracy
from knowledge.models import Role
from tests.browser.conftest import serve
from tests.conftest import FIXTURES, Stack, make_stack, make_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHORT = FIXTURES / "en_one_speaker.mp3"  # 15 s, one voice
DIALOGUE = FIXTURES / "en_short.mp3"  # 37 s, rep and customer


def client_for(url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Embedded settings, one worker, the app served twice: as configured, and with a 10 s
    limit on what is answered while the caller waits."""
    stack = make_stack(tmp_path_factory.mktemp("v1"), "embedded")
    stack.start_worker()
    token = make_user(stack.settings, "v1-rep", Role.REP, display_name="Alex")
    short_limit = stack.settings.model_copy(update={"sync_max_audio_s": 10})
    with serve(stack.settings) as url, serve(short_limit) as short_url:
        yield {
            "stack": stack,
            "url": url,
            "short_url": short_url,
            "token": token,
            "client": client_for(url, token),
        }
    stack.stop()
    stack.client.__exit__(None, None, None)


def _wer(path: Path, text: str) -> float:
    truth = json.loads(Path(f"{path}.truth.json").read_text())
    edits, n = wer_en(" ".join(t["text"] for t in truth["turns"]), text)
    return edits / n


def _nothing_stored(stack: Stack) -> None:
    """No visit, no staged file, no result left in the result backend."""
    assert stack.client.get("/api/visits").json()["total"] == 0
    assert list((stack.settings.audio_dir / "tmp").iterdir()) == []
    backend = stack.settings.result_backend_url
    if backend.startswith("redis"):
        assert redis.Redis.from_url(backend).keys("celery-task-meta-now:*") == []
    else:
        engine = sqlalchemy.create_engine(backend.removeprefix("db+"))
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT count(*) FROM celery_taskmeta")).scalar()
        engine.dispose()
        assert rows == 0


def test_models_lists_whisper_1(site: dict[str, Any]) -> None:
    ids = [m.id for m in site["client"].models.list()]
    assert "whisper-1" in ids


def test_json_answer_is_the_transcript_and_nothing_is_stored(site: dict[str, Any]) -> None:
    with SHORT.open("rb") as f:
        out = site["client"].audio.transcriptions.create(model="whisper-1", file=f)
    assert _wer(SHORT, out.text) < 0.25
    assert out.usage is not None and out.usage.type == "duration"
    _nothing_stored(site["stack"])


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_text_srt_and_vtt(site: dict[str, Any], fmt: str) -> None:
    with SHORT.open("rb") as f:
        out = site["client"].audio.transcriptions.create(
            model="whisper-1", file=f, response_format=fmt, language="en"
        )
    assert isinstance(out, str)
    if fmt == "srt":
        assert out.startswith("1\n00:00:") and " --> " in out
    elif fmt == "vtt":
        assert out.startswith("WEBVTT") and " --> " in out
    else:
        assert "-->" not in out and _wer(SHORT, out) < 0.25


def test_verbose_json_with_word_and_segment_timestamps(site: dict[str, Any]) -> None:
    with SHORT.open("rb") as f:
        out = site["client"].audio.transcriptions.create(
            model="whisper-1",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            prompt="A visit about a packing line.",
            temperature=0.0,
        )
    assert out.language == "english" and 14 < out.duration < 17
    assert out.segments and out.words
    assert all(s.start <= s.end for s in out.segments)
    starts = [w.start for w in out.words]
    assert starts == sorted(starts) and out.words[-1].end <= out.duration + 0.5
    assert " ".join(w.word for w in out.words).split() == out.text.split()


def test_diarized_json_names_rep_and_customer(site: dict[str, Any]) -> None:
    with DIALOGUE.open("rb") as f:
        out = site["client"].audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize", file=f, response_format="diarized_json"
        )
    speakers = {s.speaker for s in out.segments}
    assert speakers == {"rep", "customer"}, speakers
    assert all(s.type == "transcript.text.segment" for s in out.segments)
    truth = json.loads(Path(f"{DIALOGUE}.truth.json").read_text())
    said = [{"start": s.start, "end": s.end, "role": s.speaker} for s in out.segments]
    assert role_accuracy(truth["turns"], said) > 0.9


def test_stream_sends_deltas_then_done(site: dict[str, Any]) -> None:
    with DIALOGUE.open("rb") as f:
        events = list(
            site["client"].audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        )
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    assert len(deltas) >= 2  # 30 s chunks: the first arrives before the recording is done
    assert events[-1].type == "transcript.text.done"
    assert "".join(d.delta for d in deltas) == events[-1].text
    assert _wer(DIALOGUE, events[-1].text) < 0.25
    _nothing_stored(site["stack"])


@pytest.mark.parametrize(
    ("path", "content", "fields", "code", "param"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 200, {}, "not_audio", "file"),
        ("empty.mp3", b"", {}, "empty_file", "file"),
        ("en.mp3", None, {"response_format": "docx"}, "unsupported_response_format", None),
        ("en.mp3", None, {"language": "xx"}, "invalid_language", "language"),
    ],
)
def test_bad_input_answers_400_in_openai_shape(
    site: dict[str, Any],
    path: str,
    content: bytes | None,
    fields: dict[str, str],
    code: str,
    param: str | None,
) -> None:
    data = content if content is not None else SHORT.read_bytes()
    with pytest.raises(openai.BadRequestError) as caught:
        site["client"].audio.transcriptions.create(
            model="whisper-1",
            file=(path, data),
            **fields,  # type: ignore[arg-type]  # a format the client's types do not allow
        )
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == code and body["type"] == "invalid_request_error"
    assert body["param"] == (param or "response_format")
    assert body["message"]


def test_missing_file_is_named(site: dict[str, Any]) -> None:
    res = httpx.post(
        f"{site['url']}/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        headers={"Authorization": f"Bearer {site['token']}"},
    )
    assert res.status_code == 400
    assert res.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "param": "file",
        "code": "missing_file",
    }


def test_no_or_bad_credentials_answer_401(site: dict[str, Any]) -> None:
    res = httpx.post(f"{site['url']}/v1/audio/transcriptions", files={"file": ("a.mp3", b"x")})
    assert res.status_code == 401
    assert res.json()["error"]["code"] == "unauthorized"
    assert res.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(site["url"], "vl_not-a-token").audio.transcriptions.create(
            model="whisper-1", file=SHORT
        )
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("method", "route"), api_routes(OPENAI_ROUTERS), ids=lambda x: getattr(x, "path", x)
)
def test_every_v1_route_refuses_the_roles_its_rule_leaves_out(
    site: dict[str, Any], method: str, route: Any
) -> None:
    allowed = rule_of(route, method, OPENAI_PREFIX)
    assert allowed is not None
    url = f"{site['url']}{OPENAI_PREFIX}{route.path}"
    for role in Role:
        token = make_user(site["stack"].settings, f"{role}-{method}-{route.name}", role)
        res = httpx.request(method, url, headers={"Authorization": f"Bearer {token}"})
        if role in allowed:
            assert res.status_code not in (401, 403), role
        else:
            assert res.status_code == 403, role
            assert res.json()["error"]["code"] == "forbidden"
            assert res.json()["error"]["type"] == "permission_error"


def test_too_long_says_to_store_it(site: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client_for(site["short_url"], site["token"]).audio.transcriptions.create(
            model="whisper-1", file=SHORT
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "too_long" and body["param"] == "file"
    assert "store=true" in body["message"] and "/api/visits" in body["message"]


def test_store_makes_a_visit_through_the_upload(site: dict[str, Any]) -> None:
    stack: Stack = site["stack"]
    with DIALOGUE.open("rb") as f:
        out = site["client"].audio.transcriptions.create(
            model="whisper-1",
            file=f,
            response_format="diarized_json",
            extra_body={"store": True},
        )
    visit_id = out.model_extra["visit_id"] if out.model_extra else None
    assert visit_id
    assert {s.speaker for s in out.segments} == {"rep", "customer"}
    res = httpx.get(
        f"{site['url']}/api/visits/{visit_id}",
        headers={"Authorization": f"Bearer {site['token']}"},
    )
    assert res.status_code == 200 and res.json()["rep"] == "Alex"
    stored = stack.client.get(f"/api/visits/{visit_id}/transcript").json()["segments"]
    assert [s["text"] for s in stored] == [s.text for s in out.segments]


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory, pg_database: str, redis_url: str
) -> Iterator[dict[str, Any]]:
    stack = make_stack(tmp_path_factory.mktemp("v1-prod"), "production", pg_database, redis_url)
    stack.start_worker()
    token = make_user(stack.settings, "v1-prod-rep", Role.REP)
    with serve(stack.settings) as url:
        yield {"stack": stack, "client": client_for(url, token)}
    stack.stop()
    stack.client.__exit__(None, None, None)


def test_results_come_back_through_redis_too(production: dict[str, Any]) -> None:
    with SHORT.open("rb") as f:
        out = production["client"].audio.transcriptions.create(model="whisper-1", file=f)
    assert _wer(SHORT, out.text) < 0.25
    with SHORT.open("rb") as f:
        events = list(
            production["client"].audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        )
    assert events[-1].type == "transcript.text.done" and events[-1].text
    _nothing_stored(production["stack"])
