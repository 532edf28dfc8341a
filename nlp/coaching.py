"""Coaching metrics of an attributed transcript: talk ratio, questions, stages and a scorecard."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from nlp.questions import (
    QuestionCues,
    Spin,
    classify_question,
    contains_cue,
    load_cues,
    normalize,
    sentences,
)
from nlp.scorecard import Direction, Metric, Scorecard, ScorecardItem, direction_of
from nlp.scorecard import load_scorecard as load_scorecard  # callers read it from here too
from nlp.types import Segment
from nlp.vocabulary import Role

StageName = Literal["opening", "discovery", "answering", "closing"]
CONTEXT_S = 5.0  # a quick reply is shown with this much of the customer before it and of it
OPENING_MAX_SHARE = 0.15  # the opening never runs past this share of the visit
CLOSING_MIN_SHARE = 0.6  # closing cues count only after this share of the visit
MAX_ANSWER_PAUSE_S = 10.0  # a longer silence before the rep speaks is not "answering"


@dataclass(frozen=True)
class TimeSpan:
    """A stretch of the recording in seconds, with what it shows."""

    start: float
    end: float
    note: str = ""


@dataclass(frozen=True)
class QuestionAsked:
    """One question of the rep with its SPIN type and open/closed flag."""

    start: float
    end: float
    text: str
    spin: Spin
    open: bool


@dataclass(frozen=True)
class Stage:
    """One interview stage as a time range."""

    name: StageName
    start: float
    end: float


@dataclass(frozen=True)
class ItemScore:
    """A scorecard item measured on one visit; value None when the visit cannot show it."""

    id: str
    label: str
    metric: Metric
    value: float | None
    passed: bool | None
    score: float  # 0..1
    weight: float
    evidence: list[TimeSpan]
    moment: TimeSpan | None = None  # a failed item: the rep's own stretch that shows the miss


@dataclass
class CoachingReport:
    """Everything a trainer sees about how the rep ran one visit."""

    duration_s: float
    rep_speech_s: float
    customer_speech_s: float
    other_speech_s: float
    talk_ratio: float | None
    longest_rep_monologue_s: float
    longest_customer_story_s: float
    interactivity_per_min: float
    patience_s: float | None
    question_rate_per_10min: float
    questions: list[QuestionAsked]
    stages: list[Stage]
    scorecard: list[ItemScore]
    total: float  # 0..100
    metrics: dict[str, float | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Turn:
    role: str
    speaker: str
    start: float
    end: float
    segments: list[Segment]


def _turns(segments: Sequence[Segment]) -> list[_Turn]:
    """Consecutive segments of one speaker joined into turns."""
    turns: list[_Turn] = []
    for seg in segments:
        speaker = seg.speaker or seg.role or "?"
        role = seg.role or Role.OTHER
        if turns and turns[-1].speaker == speaker:
            turns[-1].end = max(turns[-1].end, seg.end)
            turns[-1].segments.append(seg)
        else:
            turns.append(_Turn(role, speaker, seg.start, seg.end, [seg]))
    return turns


def _questions(segments: Sequence[Segment], language: str | None) -> list[QuestionAsked]:
    found = []
    for seg in segments:
        if seg.role != Role.REP:
            continue
        for sentence in sentences(seg.text):
            kind = classify_question(sentence, seg.language or language)
            if kind is not None:
                found.append(QuestionAsked(seg.start, seg.end, sentence, kind.spin, kind.open))
    return found


def _closing_cue_at(
    turns: list[_Turn], after: float, language: str | None, cues: QuestionCues
) -> float | None:
    """The start of the first rep turn from `after` on that says a closing cue."""
    for turn in turns:
        if turn.role != Role.REP or turn.start < after:
            continue
        text = " ".join(s.text for s in turn.segments)
        lang, norm = normalize(text, turn.segments[0].language or language)
        if any(contains_cue(norm, c, lang) for c in cues.closing_cues.get(lang, ())):
            return turn.start
    return None


def _stages(
    turns: list[_Turn], questions: list[QuestionAsked], language: str | None, cues: QuestionCues
) -> list[Stage]:
    """Opening, then discovery (rep asking) and answering (rep explaining) phases, then closing."""
    if not turns:
        return []
    start, end = turns[0].start, max(t.end for t in turns)
    duration = max(end - start, 1e-6)
    asked_at = {q.start for q in questions}
    cue_at = _closing_cue_at(turns, start + CLOSING_MIN_SHARE * duration, language, cues)
    closing_at = end if cue_at is None else cue_at
    if closing_at == end and len(turns) > 2:
        closing_at = max(turns[-2].start, start + 0.9 * duration)
    opening_end = start + OPENING_MAX_SHARE * duration
    first_question = next((q.start for q in questions if q.start > turns[0].start), None)
    if len(turns) > 1:
        opening_end = min(opening_end, turns[1].end)
    if first_question is not None and first_question > turns[0].start:
        opening_end = min(opening_end, first_question)
    opening_end = min(opening_end, closing_at)
    stages = [Stage("opening", start, opening_end)]
    for turn in turns:
        if turn.role != Role.REP or turn.end <= opening_end or turn.start >= closing_at:
            continue
        asks = any(s.start in asked_at for s in turn.segments)
        name: StageName = "discovery" if asks else "answering"
        at = max(turn.start, opening_end)
        if stages[-1].name != name:
            stages[-1] = Stage(stages[-1].name, stages[-1].start, at)
            stages.append(Stage(name, at, closing_at))
    if stages[-1].name != "opening" or stages[-1].end < closing_at:
        stages[-1] = Stage(stages[-1].name, stages[-1].start, closing_at)
    if closing_at < end:
        stages.append(Stage("closing", closing_at, end))
    return [s for s in stages if s.end > s.start]


def _span(turn: _Turn | QuestionAsked | None, note: str) -> TimeSpan | None:
    return None if turn is None else TimeSpan(turn.start, turn.end, note)


def _longest(turns: list[_Turn], role: str) -> _Turn | None:
    return max((t for t in turns if t.role == role), key=lambda t: t.end - t.start, default=None)


def _replies(turns: list[_Turn]) -> list[tuple[float, _Turn, _Turn]]:
    """(pause, customer turn, rep turn) where the rep answered the customer within a pause of
    MAX_ANSWER_PAUSE_S."""
    return [
        (max(0.0, b.start - a.end), a, b)
        for a, b in zip(turns, turns[1:], strict=False)
        if a.role == Role.CUSTOMER and b.role == Role.REP and b.start - a.end <= MAX_ANSWER_PAUSE_S
    ]


def _failure_moments(
    turns: list[_Turn],
    questions: list[QuestionAsked],
    replies: list[tuple[float, _Turn, _Turn]],
    longest_rep: _Turn | None,
    longest_customer: _Turn | None,
) -> dict[tuple[Metric, Direction], TimeSpan | None]:
    """Per metric and way of missing it, the rep's own moment that shows the miss: the longest
    pitch with no question, the first closed question, the quickest reply..."""
    asked_at = {q.start for q in questions}
    pitches = (
        t for t in turns if t.role == Role.REP and asked_at.isdisjoint(x.start for x in t.segments)
    )
    pitch = _span(max(pitches, key=lambda t: t.end - t.start, default=None), "pitch, no question")
    monologue = _span(longest_rep, "longest rep monologue")
    story = _span(longest_customer, "longest customer story")
    after = longest_customer.end if longest_customer else math.inf
    took_over = _span(
        next((t for t in turns if t.role == Role.REP and t.start >= after), None),
        "rep took the floor",
    )
    closed = _span(next((q for q in questions if not q.open), None), "closed question")
    situation = _span(
        next((q for q in questions if q.spin == "situation"), None), "situation question"
    )
    quick = None
    if replies:
        _, said, reply = min(replies, key=lambda r: r[0])
        end = min(reply.end, reply.start + CONTEXT_S)
        quick = TimeSpan(max(said.start, said.end - CONTEXT_S), end, "quick reply")
    return {
        ("talk_ratio", "high"): pitch or monologue,
        ("talk_ratio", "low"): story,
        ("question_rate_per_10min", "low"): pitch or monologue,
        ("open_question_share", "low"): closed,
        ("deep_question_share", "low"): situation,
        ("longest_rep_monologue_s", "high"): monologue,
        ("longest_customer_story_s", "low"): took_over or story,
        ("interactivity_per_min", "low"): pitch or monologue,
        ("patience_s", "low"): quick,
    }


def _score_item(item: ScorecardItem, value: float | None) -> tuple[bool | None, float]:
    if value is None:
        return None, 0.0
    miss = 0.0
    if item.min is not None and value < item.min:
        miss = (item.min - value) / max(abs(item.min), 1e-6)
    if item.max is not None and value > item.max:
        miss = (value - item.max) / max(abs(item.max), 1e-6)
    return miss == 0.0, max(0.0, 1.0 - miss / item.tolerance)


def _metrics(
    speech: dict[str, float],
    turns: list[_Turn],
    questions: list[QuestionAsked],
    pauses: list[tuple[float, float]],
    minutes: float,
) -> dict[str, float | None]:
    """Every metric a scorecard item may use; None where the visit cannot show it."""
    total_speech, has_rep = sum(speech.values()), speech[Role.REP] > 0
    longest_rep, longest_customer = _longest(turns, Role.REP), _longest(turns, Role.CUSTOMER)
    switches = sum(1 for a, b in zip(turns, turns[1:], strict=False) if a.speaker != b.speaker)
    open_share = sum(q.open for q in questions) / len(questions) if questions else None
    deep = [q for q in questions if q.spin != "situation"]
    return {
        "talk_ratio": speech[Role.REP] / total_speech if total_speech and has_rep else None,
        "question_rate_per_10min": len(questions) / minutes * 10 if has_rep else None,
        "open_question_share": open_share,
        "deep_question_share": len(deep) / len(questions) if questions else None,
        "longest_rep_monologue_s": longest_rep.end - longest_rep.start if longest_rep else None,
        "longest_customer_story_s": (
            longest_customer.end - longest_customer.start if longest_customer else None
        ),
        "interactivity_per_min": switches / minutes if turns else None,
        "patience_s": sum(p for p, _ in pauses) / len(pauses) if pauses else None,
    }


def _evidence(
    turns: list[_Turn],
    questions: list[QuestionAsked],
    longest_rep: _Turn | None,
    longest_customer: _Turn | None,
    pauses: list[tuple[float, float]],
) -> dict[str, list[TimeSpan]]:
    """Per metric, the stretches a trainer checks it by."""
    rep_turns = [t for t in turns if t.role == Role.REP]
    q_spans = [
        TimeSpan(q.start, q.end, f"{q.spin}, {'open' if q.open else 'closed'}") for q in questions
    ]
    return {
        "talk_ratio": [
            TimeSpan(t.start, t.end, "long rep turn")
            for t in sorted(rep_turns, key=lambda t: t.start - t.end)[:3]
        ],
        "question_rate_per_10min": q_spans,
        "open_question_share": q_spans,
        "deep_question_share": [
            s for s, q in zip(q_spans, questions, strict=True) if q.spin != "situation"
        ],
        "longest_rep_monologue_s": (
            [TimeSpan(longest_rep.start, longest_rep.end, "longest rep monologue")]
            if longest_rep
            else []
        ),
        "longest_customer_story_s": (
            [TimeSpan(longest_customer.start, longest_customer.end, "longest customer story")]
            if longest_customer
            else []
        ),
        "interactivity_per_min": [],
        "patience_s": [
            TimeSpan(at - pause, at, "pause before the rep answered")
            for pause, at in sorted(pauses)[:3]
        ],
    }


def _score(
    item: ScorecardItem,
    value: float | None,
    evidence: list[TimeSpan],
    moments: dict[tuple[Metric, Direction], TimeSpan | None],
) -> ItemScore:
    """One item measured on the visit; failed, with the moment that shows the miss (else its
    first evidence)."""
    passed, score = _score_item(item, value)
    direction = direction_of(item, value) if passed is False else None
    moment = (
        (moments.get((item.metric, direction)) or next(iter(evidence), None)) if direction else None
    )
    return ItemScore(
        id=item.id,
        label=item.label,
        metric=item.metric,
        value=None if value is None else round(value, 3),
        passed=passed,
        score=round(score, 3),
        weight=item.weight,
        evidence=evidence,
        moment=moment,
    )


def coaching_report(
    segments: Sequence[Segment],
    scorecard: Scorecard | None = None,
    *,
    language: str | None = None,
    cues: QuestionCues | None = None,
) -> CoachingReport:
    """Coaching metrics, stages and scorecard of a transcript whose segments carry roles."""
    card = scorecard or load_scorecard()
    cue_set = cues or load_cues()
    ordered = sorted((s for s in segments if s.end > s.start), key=lambda s: (s.start, s.end))
    warnings = []
    if ordered and all(s.role is None for s in ordered):
        warnings.append("No speaker roles: rep metrics need diarized, role-labelled segments.")
    speech: dict[str, float] = dict.fromkeys(Role, 0.0)
    for seg in ordered:
        speech[seg.role if seg.role in speech else Role.OTHER] += seg.end - seg.start
    start = ordered[0].start if ordered else 0.0
    duration = max((s.end for s in ordered), default=0.0) - start
    minutes = max(duration / 60.0, 1e-6)

    turns = _turns(ordered)
    longest_rep, longest_customer = _longest(turns, Role.REP), _longest(turns, Role.CUSTOMER)
    replies = _replies(turns)
    pauses = [(pause, b.start) for pause, _, b in replies]
    questions = _questions(ordered, language)
    has_rep = speech[Role.REP] > 0
    if ordered and not has_rep:
        warnings.append("No segment is attributed to the rep.")
    metrics = _metrics(speech, turns, questions, pauses, minutes)
    evidence = _evidence(turns, questions, longest_rep, longest_customer, pauses)
    moments = _failure_moments(turns, questions, replies, longest_rep, longest_customer)
    scores = [
        _score(item, metrics[item.metric], evidence[item.metric], moments) for item in card.items
    ]
    weighed = [s for s in scores if s.value is not None]
    weight_sum = sum(s.weight for s in weighed)
    total = 100.0 * sum(s.weight * s.score for s in weighed) / weight_sum if weight_sum else 0.0
    return CoachingReport(
        duration_s=round(duration, 3),
        rep_speech_s=round(speech[Role.REP], 3),
        customer_speech_s=round(speech[Role.CUSTOMER], 3),
        other_speech_s=round(speech[Role.OTHER], 3),
        talk_ratio=metrics["talk_ratio"],
        longest_rep_monologue_s=metrics["longest_rep_monologue_s"] or 0.0,
        longest_customer_story_s=metrics["longest_customer_story_s"] or 0.0,
        interactivity_per_min=metrics["interactivity_per_min"] or 0.0,
        patience_s=metrics["patience_s"],
        question_rate_per_10min=metrics["question_rate_per_10min"] or 0.0,
        questions=questions,
        stages=_stages(turns, questions, language, cue_set),
        scorecard=scores,
        total=round(total, 1),
        metrics=metrics,
        warnings=warnings,
    )
