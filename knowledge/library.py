"""The best-practice library: playlists of clips (visit moments) and visits suggested for it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge import visits
from knowledge.errors import Conflict, InvalidInput, NotFound
from knowledge.models import Clip, Outcome, Playlist, SegmentRow, Visit, VisitResult

NAME_MAX = 200
TAGS_MAX = 20
SUGGEST_MIN_SCORE = 0.5
SCORECARD_GOOD = 70.0
SCORECARD_VERY_HIGH = 85.0  # a lost visit is still a model when its scorecard reaches this
SENTIMENT_GOOD = 0.2


class PlaylistExists(Conflict):
    code = "playlist_exists"


@dataclass(frozen=True)
class ClipIn:
    visit_id: str
    start: float
    end: float
    note: str | None = None
    tags: tuple[str, ...] = ()
    playlist_id: int | None = None


@dataclass(frozen=True)
class ClipView:
    clip: Clip
    visit_title: str
    text: str  # the transcript said within the clip's range


@dataclass(frozen=True)
class PlaylistView:
    playlist: Playlist
    clips: list[ClipView]


@dataclass(frozen=True)
class Suggestion:
    visit_id: str
    title: str
    rep: str | None
    score: float  # 0..1, higher is a better example
    scorecard_total: float | None
    sentiment_score: float | None
    actions: int
    risks: int
    in_library: bool
    reasons: list[str] = field(default_factory=list)
    outcome: str | None = None  # won | lost | open


def create_playlist(db: Session, *, name: str, description: str | None = None) -> Playlist:
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(
            f"A playlist needs a name of 1 to {NAME_MAX} characters.", code="invalid_name"
        )
    existing = db.scalar(select(Playlist).where(Playlist.name == name))
    if existing is not None:
        raise PlaylistExists(f"A playlist named '{name}' exists already (id {existing.id}).")
    playlist = Playlist(name=name, description=description)
    db.add(playlist)
    db.flush()
    return playlist


def get_playlist(db: Session, *, playlist_id: int) -> Playlist:
    playlist = db.get(Playlist, playlist_id)
    if playlist is None:
        raise NotFound(f"No playlist with id {playlist_id}.", code="playlist_not_found")
    return playlist


def playlists(db: Session) -> list[tuple[Playlist, int]]:
    """Every playlist by name, with its number of clips."""
    counts: dict[int | None, int] = {
        playlist_id: n
        for playlist_id, n in db.execute(
            select(Clip.playlist_id, func.count()).group_by(Clip.playlist_id)
        )
    }
    rows = db.scalars(select(Playlist).order_by(Playlist.name)).all()
    return [(p, counts.get(p.id, 0)) for p in rows]


def delete_playlist(db: Session, *, playlist_id: int) -> None:
    """Delete a playlist and its clips (the visits stay)."""
    db.delete(get_playlist(db, playlist_id=playlist_id))
    db.flush()


def _duration(db: Session, visit: Visit) -> float | None:
    if visit.duration_s:
        return visit.duration_s
    end = db.scalar(select(func.max(SegmentRow.end)).where(SegmentRow.visit_id == visit.id))
    return None if end is None else float(end)


def add_clip(db: Session, *, clip: ClipIn) -> Clip:
    """A moment of a visit; 0 <= start < end <= the visit's duration (seconds)."""
    visit = visits.get(db, visit_id=clip.visit_id)
    if clip.playlist_id is not None:
        get_playlist(db, playlist_id=clip.playlist_id)
    duration = _duration(db, visit)
    if not 0 <= clip.start < clip.end or (duration is not None and clip.end > duration + 0.5):
        limit = f"{duration:.1f}" if duration is not None else "the recording's end"
        raise InvalidInput(
            f"A clip needs 0 <= start < end <= {limit} seconds; got {clip.start}..{clip.end}.",
            code="invalid_time_range",
        )
    tags = list(dict.fromkeys(t.strip() for t in clip.tags if t.strip()))
    if len(tags) > TAGS_MAX:
        raise InvalidInput(f"A clip takes at most {TAGS_MAX} tags.", code="too_many_tags")
    row = Clip(
        playlist_id=clip.playlist_id,
        visit_id=clip.visit_id,
        start=round(clip.start, 3),
        end=round(min(clip.end, duration) if duration is not None else clip.end, 3),
        note=clip.note,
        tags=tags,
    )
    db.add(row)
    db.flush()
    return row


def delete_clip(db: Session, *, clip_id: int) -> None:
    clip = db.get(Clip, clip_id)
    if clip is None:
        raise NotFound(f"No clip with id {clip_id}.", code="clip_not_found")
    db.delete(clip)
    db.flush()


def _clip_texts(db: Session, clips: Sequence[Clip]) -> dict[int, str]:
    """The transcript segments overlapping each clip, joined."""
    by_visit: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        by_visit[c.visit_id].append(c)
    out: dict[int, str] = {}
    for visit_id, group in by_visit.items():
        lo, hi = min(c.start for c in group), max(c.end for c in group)
        segments = db.execute(
            select(SegmentRow.start, SegmentRow.end, SegmentRow.text)
            .where(SegmentRow.visit_id == visit_id, SegmentRow.end > lo, SegmentRow.start < hi)
            .order_by(SegmentRow.idx)
        ).all()
        for c in group:
            out[c.id] = " ".join(t for s, e, t in segments if e > c.start and s < c.end)
    return out


def view_clip(db: Session, *, clip: Clip) -> ClipView:
    """One clip with its visit's title and the transcript said within it."""
    visit = visits.get(db, visit_id=clip.visit_id)
    return ClipView(clip, visit.title or "", _clip_texts(db, [clip]).get(clip.id, ""))


def library(db: Session) -> tuple[list[PlaylistView], list[ClipView]]:
    """Playlists with their clips (in time order), and clips kept outside any playlist."""
    clips = list(db.scalars(select(Clip).order_by(Clip.visit_id, Clip.start, Clip.id)))
    texts = _clip_texts(db, clips)
    titles: dict[str, str] = {
        visit_id: title
        for visit_id, title in db.execute(
            select(Visit.id, Visit.title).where(Visit.id.in_({c.visit_id for c in clips}))
        )
    }
    views: dict[int | None, list[ClipView]] = defaultdict(list)
    for c in clips:
        views[c.playlist_id].append(ClipView(c, titles.get(c.visit_id) or "", texts.get(c.id, "")))
    rows = db.scalars(select(Playlist).order_by(Playlist.name)).all()
    return [PlaylistView(p, views.get(p.id, [])) for p in rows], views.get(None, [])


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def suggest(db: Session, *, limit: int = 20) -> list[Suggestion]:
    """Analysed visits that make good examples: high scorecard, positive mood, agreed actions,
    a won deal; a lost one only with a very high scorecard."""
    results: dict[str, dict[str, dict[str, object]]] = defaultdict(dict)
    rows: dict[str, Visit] = {}
    for visit, kind, data in db.execute(
        select(Visit, VisitResult.kind, VisitResult.data)
        .join(VisitResult, VisitResult.visit_id == Visit.id)
        .where(VisitResult.kind.in_(("analysis", "coaching")))
    ):
        rows[visit.id] = visit
        results[visit.id][kind] = data or {}
    in_library = set(db.scalars(select(Clip.visit_id).distinct()))
    out: list[Suggestion] = []
    for visit in rows.values():
        docs = results[visit.id]
        analysis = docs.get("analysis")
        if analysis is None:
            continue
        scorecard = docs.get("coaching", {}).get("scorecard")
        total = _number(scorecard.get("total")) if isinstance(scorecard, dict) else None
        if total is None:
            total = _number(docs.get("coaching", {}).get("total"))
        sentiment = _number(analysis.get("sentiment_score"))
        actions = analysis.get("actions")
        alerts = analysis.get("alerts")
        n_actions = len(actions) if isinstance(actions, list) else 0
        n_risks = len(alerts) if isinstance(alerts, list) else 0
        score, reasons = _score(total, sentiment, n_actions, n_risks, visit.outcome)
        if score < SUGGEST_MIN_SCORE:
            continue
        if visit.outcome == Outcome.LOST:
            if total is None or total < SCORECARD_VERY_HIGH:
                continue  # a lost deal is a model only for its conduct
            reasons.append("The deal was lost, but the scorecard is very high.")
        out.append(
            Suggestion(
                visit_id=visit.id,
                title=visit.title,
                rep=visit.rep,
                score=round(score, 3),
                scorecard_total=total,
                sentiment_score=sentiment,
                actions=n_actions,
                risks=n_risks,
                in_library=visit.id in in_library,
                reasons=reasons,
                outcome=visit.outcome,
            )
        )
    out.sort(key=lambda s: (s.in_library, -s.score, s.visit_id))
    return out[:limit]


def _score(
    total: float | None, sentiment: float | None, actions: int, risks: int, outcome: str | None
) -> tuple[float, list[str]]:
    """Weights: scorecard 0.5 (neutral 0.25 when unknown), mood 0.2, actions 0.2, no risk 0.1;
    a won deal with a good scorecard then closes half the gap to 1."""
    reasons: list[str] = []
    score = 0.25 if total is None else 0.5 * max(0.0, min(total, 100.0)) / 100
    if total is not None and total >= SCORECARD_GOOD:
        reasons.append(f"Coaching scorecard {total:g}/100.")
    if sentiment is not None and sentiment >= SENTIMENT_GOOD:
        score += 0.2
        reasons.append(f"The customer's mood was positive ({sentiment:+.2f}).")
    if actions:
        score += 0.2
        reasons.append(f"{actions} next step(s) agreed.")
    if risks == 0:
        score += 0.1
        reasons.append("No risk alert was raised.")
    if outcome == Outcome.WON and total is not None and total >= SCORECARD_GOOD:
        score += (1.0 - score) / 2
        reasons.append("The deal was won.")
    return score, reasons
