"""The /v1 answers' pure parts: text joining, OpenAI's formats, result backend, decode options."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from api.openai_schemas import (
    DiarizedTranscriptionOut,
    TranscriptionAnswer,
    TranscriptionOut,
    VerboseTranscriptionOut,
)
from api.routes.openai_audio import join_text, render
from knowledge.settings import Settings
from nlp.types import Segment, Transcript, Word
from workers.transcribe_now import options_for

SEGMENTS = [
    Segment(0.0, 2.0, "How is the line?", "en", [Word(0.0, 0.5, " How", 0.9)], "S1", "rep"),
    Segment(2.5, 4.0, "交货太慢了。", "zh", [], "S2", "customer"),
    Segment(4.0, 5.0, "我们在考虑换供应商。", "zh", [], "S2", "customer"),
]


def test_join_text_puts_spaces_between_words_not_between_chinese_characters() -> None:
    assert join_text(SEGMENTS) == "How is the line? 交货太慢了。我们在考虑换供应商。"
    assert join_text([Segment(0, 1, "Hello."), Segment(1, 2, " Yes.")]) == "Hello. Yes."


def test_verbose_json_has_openai_fields_and_words_only_when_asked() -> None:
    transcript = Transcript("en", 5.0, SEGMENTS)
    body = json.loads(bytes(render(transcript, "verbose_json", ["segment"], {}).body))
    assert body["language"] == "english" and body["task"] == "transcribe"
    assert set(body["segments"][0]) >= {"id", "seek", "tokens", "avg_logprob", "no_speech_prob"}
    assert "words" not in body
    body = json.loads(bytes(render(transcript, "verbose_json", ["word"], {}).body))
    assert body["words"] == [{"word": "How", "start": 0.0, "end": 0.5}]
    assert "segments" not in body


def test_diarized_json_names_roles_and_srt_has_no_speaker_prefix() -> None:
    transcript = Transcript("en", 5.0, SEGMENTS)
    body = json.loads(bytes(render(transcript, "diarized_json", [], {"visit_id": "v1"}).body))
    assert [s["speaker"] for s in body["segments"]] == ["rep", "customer", "customer"]
    assert body["visit_id"] == "v1" and body["usage"] == {"type": "duration", "seconds": 5}
    srt = bytes(render(transcript, "srt", [], {}).body).decode()
    assert "rep:" not in srt and "00:00:00,000 --> 00:00:02,000" in srt


def test_result_backend_follows_the_broker() -> None:
    assert (
        Settings(broker_url="sqla+sqlite:///data/broker.db").result_backend_url
        == "db+sqlite:///data/broker.db"
    )
    assert Settings(broker_url="redis://r:6379/0").result_backend_url == "redis://r:6379/0"
    assert Settings(result_backend="redis://other/1").result_backend_url == "redis://other/1"


def test_temperature_starts_the_fallback_ladder() -> None:
    assert options_for(None, None).temperature[0] == 0.0
    assert options_for("terms", 0.3).temperature == (0.3, 0.4, 0.6, 0.8, 1.0)
    assert options_for("terms", 0.3).initial_prompt == "terms"


@pytest.mark.parametrize(
    ("response_format", "model"),
    [
        ("json", TranscriptionOut),
        ("verbose_json", VerboseTranscriptionOut),
        ("diarized_json", DiarizedTranscriptionOut),
    ],
)
def test_each_json_answer_is_the_model_documented_for_its_format(
    response_format: str, model: type[BaseModel]
) -> None:
    transcript = Transcript("en", 5.0, SEGMENTS)
    extra = {"warnings": ["noisy"], "visit_id": "v1"}
    body = json.loads(bytes(render(transcript, response_format, ["word", "segment"], extra).body))
    answer = model.model_validate(body)
    assert answer.model_extra == {} and answer.model_dump(exclude_unset=True) == body
    assert isinstance(TranscriptionAnswer.model_validate(body).root, BaseModel)
