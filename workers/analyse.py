"""The analysis step: labels, sentiment, risk, action items and a summary for a visit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any, cast

import httpx
import structlog

from knowledge import analysis, analysis_document, ledger, visits
from knowledge.analysis_document import (
    ActionDoc,
    AlertDoc,
    AnalysisDocument,
    CurvePointDoc,
    DisagreementDoc,
    LLMStatusDoc,
    MergedDoc,
    OpinionDoc,
    SecondOpinionDoc,
)
from knowledge.db import session_scope
from knowledge.models import Correction
from knowledge.settings import Settings
from nlp import llm
from nlp.actions import extract_actions
from nlp.classify import Classifier, LabelScore, TextAnalysis, load_current_classifier
from nlp.coaching import coaching_report, load_scorecard
from nlp.commitments import load_current_acts
from nlp.labels import load_labels
from nlp.summary import summarize
from nlp.types import Segment
from nlp.visit_report import VisitReport, visit_report
from nlp.vocabulary import Role
from workers.runner import StepContext

log = structlog.get_logger()
WAITED = ("unreachable", "timeout")  # failures that cost a wait: the summary is not asked after


def classifier(settings: Settings) -> Classifier:
    """This process's classifier, loaded afresh after `visitlens train` wrote new weights."""
    return load_current_classifier(settings.prompts_dir, settings.models_dir)


def _corrected(
    result: TextAnalysis, labels: list[str], sentiment: str | None, risk: list[str]
) -> TextAnalysis:
    return replace(
        result,
        labels=[LabelScore(x, 1.0) for x in labels],
        sentiment=sentiment or result.sentiment,  # type: ignore[arg-type]
        risk=[LabelScore(x, 1.0) for x in risk],
    )


@dataclass(frozen=True)
class _Stored:
    """What analysis reads of a visit, in one transaction."""

    segments: list[Segment]
    corrections: dict[int, Correction]  # the newest per utterance index
    language: str | None
    visit_date: date
    meta: dict[str, str | None]  # title, rep, customer


def work(ctx: StepContext) -> None:
    settings = ctx.rt.settings
    model = classifier(settings)
    stored = _load(ctx, model)
    segments, language = stored.segments, stored.language
    results = _analyze(model, stored)
    endpoint = llm_endpoint(settings)
    second: LabelOpinions | None = None
    if endpoint is not None and settings.llm_labels != "off":
        second = second_opinion(ctx, endpoint, segments, results, set(stored.corrections), language)
        results = second.results
    report = visit_report(segments, results)
    document = _document(settings, stored, results, report)
    problems: list[llm.LLMError] = []
    if endpoint is not None:
        fields, problems = llm_fields(
            ctx, endpoint, second, segments, language, stored.meta, str(stored.visit_date)
        )
        if fields.get("summary_source") == "llm":
            fields["summary_builtin"] = document["summary"]
        document |= fields
    _save(ctx, stored, results, document, _coaching(settings, stored), problems)
    if report.alerts and settings.alert_webhook_url and not document["alerted"]:
        _alert(ctx, settings.alert_webhook_url, stored.meta, document)


def _load(ctx: StepContext, model: Classifier) -> _Stored:
    """The visit's segments and corrections; the corrections stored meanwhile teach the model."""
    with session_scope(ctx.rt.sessions) as db:
        visit = visits.get(db, visit_id=ctx.visit_id)
        stored = _Stored(
            segments=visits.segments_of(db, visit_id=ctx.visit_id),
            corrections=analysis.latest_corrections(db, visit_id=ctx.visit_id),
            language=visit.language,
            visit_date=visit.visit_date or visit.created_at.date(),
            meta={"title": visit.title, "rep": visit.rep, "customer": visit.customer},
        )
        analysis.teach_corrections(db, model)
    return stored


def _analyze(model: Classifier, stored: _Stored) -> list[TextAnalysis]:
    """The model's labels, sentiment and risk per segment; a person's correction wins."""
    segments = stored.segments
    texts = [s.text for s in segments]
    results = model.analyze(
        texts,
        language=stored.language,
        previous=[None, *texts[:-1]],
        roles=[s.role for s in segments],
    )
    for idx, c in stored.corrections.items():
        if idx < len(results) and c.text == texts[idx]:
            results[idx] = _corrected(results[idx], list(c.labels), c.sentiment, list(c.risk))
    return results


def _document(
    settings: Settings, stored: _Stored, results: list[TextAnalysis], report: VisitReport
) -> AnalysisDocument:
    """The stored analysis: summary, counts, mood curve, alerts and action items."""
    utterances = [(s.role, s.text, s.start) for s in stored.segments]
    visit_date = stored.visit_date
    actions = extract_actions(
        utterances,
        visit_date if isinstance(visit_date, date) else date.today(),
        load_current_acts(settings.prompts_dir, settings.models_dir),
    )
    summary = summarize(
        utterances, results, stored.language, actions, load_labels(settings.prompts_dir)
    )
    return {
        "summary": summary,
        "label_counts": report.label_counts,
        "sentiment_score": report.sentiment_score,
        "sentiment_counts": report.sentiment_counts,
        "curve": [cast(CurvePointDoc, asdict(p)) for p in report.curve],
        "alerts": [cast(AlertDoc, asdict(a)) for a in report.alerts],
        "actions": [
            cast(ActionDoc, {**asdict(a), "due": a.due.isoformat() if a.due else None})
            for a in actions
        ],
    }


def _coaching(settings: Settings, stored: _Stored) -> dict[str, Any]:
    coaching = asdict(
        coaching_report(
            stored.segments,
            load_scorecard(settings.prompts_dir / "scorecard.yaml"),
            language=stored.language,
        )
    )
    coaching["scorecard"] = {"total": coaching.pop("total"), "items": coaching["scorecard"]}
    return coaching


def _save(
    ctx: StepContext,
    stored: _Stored,
    results: list[TextAnalysis],
    document: AnalysisDocument,
    coaching: dict[str, Any],
    problems: list[llm.LLMError],
) -> None:
    """Store coaching, utterances, the analysis and its action items as ledger drafts in one
    transaction; a webhook alert already sent for this visit stays marked as sent."""
    with session_scope(ctx.rt.sessions) as db:
        visits.put_result(db, visit_id=ctx.visit_id, kind="coaching", data=coaching)
        analysis.replace_utterances(
            db,
            visit_id=ctx.visit_id,
            segments=stored.segments,
            analyses=results,
            corrected=set(stored.corrections),
        )
        previous = analysis_document.get(db, visit_id=ctx.visit_id) or {}
        document["alerted"] = previous.get("alerted", False)
        analysis_document.put(db, visit_id=ctx.visit_id, document=document)
        ledger.draft_actions(db, visit_id=ctx.visit_id, actions=document.get("actions") or [])
        if problems:
            visits.add_warning(db, visit_id=ctx.visit_id, warning=llm_warning(problems[-1]))


def llm_fields(
    ctx: StepContext,
    endpoint: llm.ChatEndpoint,
    second: LabelOpinions | None,
    segments: Sequence[Segment],
    language: str | None,
    meta: dict[str, str | None],
    visit_date: str,
) -> tuple[AnalysisDocument, list[llm.LLMError]]:
    """What the endpoint adds to the analysis document (its summary, its second opinion, how
    each went) and the failures to warn about."""
    status: LLMStatusDoc = {"model": endpoint.model or None, "labels": "off"}
    fields: AnalysisDocument = {"llm": status, "summary_source": "builtin"}
    problems: list[llm.LLMError] = []
    if second is not None:
        fields["second_opinion"] = second.document
        status["labels"] = second.status
        problems += [second.error] if second.error else []
    if second is not None and second.error is not None and second.error.reason in WAITED:
        status["summary"] = "skipped"  # the endpoint just cost a wait; don't wait again
        return fields, problems
    text = llm_summary(ctx, endpoint, segments, language, meta, visit_date)
    if isinstance(text, llm.LLMError):
        problems.append(text)
        status["summary"] = text.reason
    else:
        fields |= {"summary": text, "summary_source": "llm"}
        status["summary"] = "ok"
    return fields, problems


def llm_endpoint(settings: Settings) -> llm.ChatEndpoint | None:
    if not settings.llm_url:
        return None
    return llm.ChatEndpoint(
        url=settings.llm_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
    )


def llm_warning(error: llm.LLMError) -> str:
    why = {
        "unreachable": "it is unreachable",
        "timeout": "it did not answer in time",
        "http_error": "it answered with an error",
        "bad_answer": "its answer could not be read",
        "bad_prompt": "a prompt file in prompts/llm/ is malformed",
    }[error.reason]
    return (
        f"The language model at VISITLENS_LLM_URL could not be used ({why}); "
        "the built-in summary and labels are kept where it gave none."
    )


@dataclass(frozen=True)
class LabelOpinions:
    """The endpoint's labels beside the model's: per utterance, disagreements, merged labels."""

    results: list[TextAnalysis]  # the model's, plus merged labels in "merge" mode
    document: SecondOpinionDoc  # "second_opinion" of the stored analysis
    status: str  # ok, partial, or why none came (unreachable, timeout, http_error, bad_answer)
    error: llm.LLMError | None


def second_opinion(
    ctx: StepContext,
    endpoint: llm.ChatEndpoint,
    segments: Sequence[Segment],
    results: list[TextAnalysis],
    corrected: set[int],
    language: str | None,
) -> LabelOpinions:
    """Ask the endpoint to label the customer's utterances; in merge mode add the labels it is
    sure of (never to utterances a person corrected)."""
    settings = ctx.rt.settings
    items = [
        (i, s.text)
        for i, (s, r) in enumerate(zip(segments, results, strict=True))
        if s.role != Role.REP and s.text.strip() and not r.unsupported
    ]
    try:
        template = llm.load_prompt(settings.prompts_dir / "llm" / "labels.yaml", language)
        labels = load_labels(settings.prompts_dir)
        run = llm.label(endpoint, template, items, labels, language) if items else llm.NO_RUN
    except llm.LLMError as e:
        run = llm.LabelRun({}, 0, e, 0.0)
    log.info(
        "llm.labels",
        visit_id=ctx.visit_id,
        asked=len(items),
        answered=len(run.opinions),
        failed_batches=run.failed_batches,
        seconds=run.seconds,
    )
    if run.error is not None:
        log.warning("llm.failed", visit_id=ctx.visit_id, part="labels", reason=run.error.reason)
    merged_results, per_utterance, disagreements, merged = _compare(
        run.opinions, results, segments, corrected, merge=settings.llm_labels == "merge"
    )
    status = "ok" if run.error is None else "partial" if run.opinions else run.error.reason
    document: SecondOpinionDoc = {
        "mode": settings.llm_labels,
        "asked": len(items),
        "answered": len(run.opinions),
        "utterances": per_utterance,
        "disagreements": disagreements,
        "merged": merged,
    }
    return LabelOpinions(merged_results, document, status, run.error)


def _compare(
    opinions: dict[int, llm.SecondOpinion],
    results: list[TextAnalysis],
    segments: Sequence[Segment],
    corrected: set[int],
    *,
    merge: bool,
) -> tuple[list[TextAnalysis], list[OpinionDoc], list[DisagreementDoc], list[MergedDoc]]:
    """The endpoint's opinion of each utterance, where it disagrees with the model, and in merge
    mode the results with the labels it is sure of added (not where a person corrected)."""
    merged_results = list(results)
    per_utterance: list[OpinionDoc] = []
    disagreements: list[DisagreementDoc] = []
    merged: list[MergedDoc] = []
    for i, op in sorted(opinions.items()):
        mine = results[i]
        model_ids = [x.id for x in [*mine.labels, *mine.risk]]
        llm_ids = [x.id for x in [*op.labels, *op.risk]]
        per_utterance.append(
            {
                "idx": i,
                "labels": [{"id": x.id, "confidence": round(x.confidence, 3)} for x in op.labels],
                "risk": [{"id": x.id, "confidence": round(x.confidence, 3)} for x in op.risk],
                "sentiment": op.sentiment,
            }
        )
        only_model = [x for x in model_ids if x not in llm_ids]
        only_llm = [x for x in llm_ids if x not in model_ids]
        if only_model or only_llm:
            disagreements.append(
                {
                    "idx": i,
                    "start": segments[i].start,
                    "only_model": only_model,
                    "only_llm": only_llm,
                }
            )
        if merge and i not in corrected:
            sure = [x for x in op.labels if x.confidence >= llm.CONFIDENT and x.id not in model_ids]
            sure_risk = [
                x for x in op.risk if x.confidence >= llm.CONFIDENT and x.id not in model_ids
            ]
            if sure or sure_risk:
                merged_results[i] = replace(
                    mine, labels=[*mine.labels, *sure], risk=[*mine.risk, *sure_risk]
                )
                merged.append({"idx": i, "labels": [x.id for x in [*sure, *sure_risk]]})
    return merged_results, per_utterance, disagreements, merged


def llm_summary(
    ctx: StepContext,
    endpoint: llm.ChatEndpoint,
    segments: Sequence[Segment],
    language: str | None,
    meta: dict[str, str | None],
    visit_date: str,
) -> str | llm.LLMError:
    """The endpoint's summary of the visit, or the reason it gave none."""
    try:
        return llm.summarize(
            endpoint,
            llm.load_prompt(ctx.rt.settings.prompts_dir / "llm" / "summary.yaml", language),
            [(s.role, s.text) for s in segments],
            language,
            title=meta["title"] or "",
            customer=meta["customer"] or "",
            visit_date=visit_date,
        )
    except llm.LLMError as e:
        log.warning("llm.failed", visit_id=ctx.visit_id, part="summary", reason=e.reason)
        return e


def _alert(
    ctx: StepContext, url: str, meta: dict[str, str | None], document: AnalysisDocument
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
        doc = analysis_document.get(db, visit_id=ctx.visit_id) or {}
        analysis_document.put(db, visit_id=ctx.visit_id, document={**doc, "alerted": True})
    log.info("alert.sent", visit_id=ctx.visit_id, alerts=len(document["alerts"]))
