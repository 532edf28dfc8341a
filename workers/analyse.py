"""The analysis step: labels, sentiment, risk, action items and a summary for a visit."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date

import httpx
import structlog

from knowledge import analysis, visits
from knowledge.db import session_scope
from knowledge.settings import Settings
from nlp.actions import extract_actions
from nlp.classify import Classifier, LabelScore, TextAnalysis, load_classifier
from nlp.coaching import coaching_report, load_scorecard
from nlp.labels import load_labels
from nlp.summary import summarize
from nlp.visit_report import visit_report
from workers.runner import StepContext

log = structlog.get_logger()
_synced_correction_id = 0  # corrections up to this id are in this process's classifier


def classifier(settings: Settings) -> Classifier:
    return load_classifier(settings.prompts_dir, settings.embedding_model)


def sync_corrections(ctx: StepContext, model: Classifier) -> None:
    """Teach this process's classifier the corrections people made since it last looked."""
    global _synced_correction_id
    with session_scope(ctx.rt.sessions) as db:
        new = analysis.corrections(db, after_id=_synced_correction_id)
        items = [(c.text, list(c.labels)) for c in new]
        if new:
            _synced_correction_id = new[-1].id
    model.add_corrections(items)


def _corrected(
    result: TextAnalysis, labels: list[str], sentiment: str | None, risk: list[str]
) -> TextAnalysis:
    return replace(
        result,
        labels=[LabelScore(x, 1.0) for x in labels],
        sentiment=sentiment or result.sentiment,  # type: ignore[arg-type]
        risk=[LabelScore(x, 1.0) for x in risk],
    )


def work(ctx: StepContext) -> None:
    settings = ctx.rt.settings
    with session_scope(ctx.rt.sessions) as db:
        visit = visits.get(db, visit_id=ctx.visit_id)
        segments = visits.segments_of(db, visit_id=ctx.visit_id)
        fixed = analysis.latest_corrections(db, visit_id=ctx.visit_id)
        language = visit.language
        visit_date = visit.visit_date or visit.created_at.date()
        meta = {"title": visit.title, "rep": visit.rep, "customer": visit.customer}
    model = classifier(settings)
    sync_corrections(ctx, model)
    texts = [s.text for s in segments]
    results = model.analyze(
        texts, language=language, previous=[None, *texts[:-1]], roles=[s.role for s in segments]
    )
    for idx, c in fixed.items():
        if idx < len(results) and c.text == texts[idx]:
            results[idx] = _corrected(results[idx], list(c.labels), c.sentiment, list(c.risk))
    actions = extract_actions(
        [(s.role, s.text, s.start) for s in segments],
        visit_date if isinstance(visit_date, date) else date.today(),
        language,
    )
    report = visit_report(segments, results)
    summary = summarize(
        [(s.role, s.text, s.start) for s in segments],
        results,
        language,
        actions,
        load_labels(settings.prompts_dir),
    )
    document = {
        "summary": summary,
        "label_counts": report.label_counts,
        "sentiment_score": report.sentiment_score,
        "sentiment_counts": report.sentiment_counts,
        "curve": [asdict(p) for p in report.curve],
        "alerts": [asdict(a) for a in report.alerts],
        "actions": [{**asdict(a), "due": a.due.isoformat() if a.due else None} for a in actions],
    }
    coaching = asdict(
        coaching_report(
            segments, load_scorecard(settings.prompts_dir / "scorecard.yaml"), language=language
        )
    )
    coaching["scorecard"] = {"total": coaching.pop("total"), "items": coaching["scorecard"]}
    with session_scope(ctx.rt.sessions) as db:
        visits.put_result(db, visit_id=ctx.visit_id, kind="coaching", data=coaching)
        analysis.replace_utterances(
            db, visit_id=ctx.visit_id, segments=segments, analyses=results, corrected=set(fixed)
        )
        previous = visits.get_result(db, visit_id=ctx.visit_id, kind="analysis") or {}
        document["alerted"] = previous.get("alerted", False)
        visits.put_result(db, visit_id=ctx.visit_id, kind="analysis", data=document)
    if report.alerts and settings.alert_webhook_url and not document["alerted"]:
        _alert(ctx, settings.alert_webhook_url, meta, document)


def _alert(
    ctx: StepContext, url: str, meta: dict[str, str | None], document: dict[str, object]
) -> None:
    """Tell a manager the same day: one POST per visit with its risk alerts."""
    payload = {
        "event": "visit.risk_alert",
        "visit_id": ctx.visit_id,
        **meta,
        "alerts": document["alerts"],
        "summary": document["summary"],
        "link": f"/api/visits/{ctx.visit_id}/analysis",
    }
    try:
        httpx.post(url, json=payload, timeout=10).raise_for_status()
    except httpx.HTTPError:
        log.warning("alert.webhook_failed", visit_id=ctx.visit_id, exc_info=True)
        return
    with session_scope(ctx.rt.sessions) as db:
        doc = visits.get_result(db, visit_id=ctx.visit_id, kind="analysis") or {}
        visits.put_result(db, visit_id=ctx.visit_id, kind="analysis", data={**doc, "alerted": True})
    log.info("alert.sent", visit_id=ctx.visit_id, alerts=len(document["alerts"]))  # type: ignore[arg-type]
