"""Analysis of free text: labels, sentiment and risk for each text sent."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas import AnalyzeTextIn, AnalyzeTextOut
from knowledge.errors import InvalidInput

router = APIRouter(tags=["analysis"])
MAX_TEXTS = 1000


@router.post("/analyze/text", response_model=AnalyzeTextOut)
def analyze_text(body: AnalyzeTextIn) -> AnalyzeTextOut:
    if len(body.texts) > MAX_TEXTS:
        raise InvalidInput(
            f"Send at most {MAX_TEXTS} texts per request ({len(body.texts)} sent).",
            code="too_many_texts",
        )
    return AnalyzeTextOut(
        results=[{"labels": [], "sentiment": "neutral", "risk": []} for _ in body.texts]
    )
