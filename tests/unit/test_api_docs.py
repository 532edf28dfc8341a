"""The OpenAPI description: every JSON answer names its model, so /docs shows its fields."""

from __future__ import annotations

from typing import Any

from api.app import create_app
from knowledge.settings import Settings

SPEC = create_app(Settings()).openapi()
NOT_JSON = {("get", "/api/visits/{visit_id}/audio")}  # the recording itself


def _names_a_model(schema: dict[str, Any]) -> bool:
    return "$ref" in schema or "$ref" in schema.get("items", {})


def test_every_json_answer_has_a_response_schema() -> None:
    undescribed = {
        (method, path)
        for path, operations in SPEC["paths"].items()
        for method, op in operations.items()
        for status, answer in op["responses"].items()
        if status.startswith("2") and "application/json" in answer.get("content", {})
        if not _names_a_model(answer["content"]["application/json"].get("schema", {}))
    }
    assert undescribed - NOT_JSON == set()


def test_a_csv_route_documents_both_answers() -> None:
    ok = SPEC["paths"]["/api/ledger"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/EntryPage"}
    assert "text/csv" in ok


def test_the_transcription_answers_name_a_model_per_json_format() -> None:
    answers = SPEC["paths"]["/v1/audio/transcriptions"]["post"]["responses"]
    ok = answers["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/TranscriptionAnswer"}
    assert {"text/plain", "text/vtt", "text/event-stream"} <= set(ok)
    union = SPEC["components"]["schemas"]["TranscriptionAnswer"]["anyOf"]
    assert [u["$ref"].rsplit("/", 1)[-1] for u in union] == [
        "TranscriptionOut",
        "VerboseTranscriptionOut",
        "DiarizedTranscriptionOut",
    ]
    stored = answers["202"]["content"]["application/json"]["schema"]
    assert stored == {"$ref": "#/components/schemas/StoredLaterOut"}
