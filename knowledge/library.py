"""The best-practice library: playlists of clips (visit moments) and visits suggested for it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge import visits
from knowledge.access import Scope
from knowledge.errors import Conflict, InvalidInput, NotFound
from knowledge.models import Clip, Playlist, SegmentRow, Visit, VisitResult

NAME_MAX = 200
TAGS_MAX = 20


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
class Moment:
    """A moment suggested for the library: the best or the worst visit on one scorecard item,
    at the stretch that shows it (a deep question asked, the longest monologue...)."""

    item: str  # scorecard item id
    label: str  # the item's name
    kind: str  # best | worst
    visit_id: str
    title: str
    rep: str | None
    start: float
    end: float
    note: str  # what the stretch shows
    score: float  # the item's score in that visit, 0..1
    value: float | None  # the item's measured value there
    text: str = ""  # what was said in it


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


def suggest(db: Session, *, scope: Scope | None = None, per_item: int = 1) -> list[Moment]:
    """Per scorecard item, the per_item best moments (the item passed; a higher scorecard
    first) and worst (failed; the lowest score first) of the visits in scope: each moment once,
    none already clipped."""
    query = select(Visit, VisitResult.data).join(VisitResult, VisitResult.visit_id == Visit.id)
    query = query.where(VisitResult.kind == "coaching")
    if scope is not None:
        query = query.where(scope.visits())
    graded: dict[str, list[tuple[float, float, Visit, dict[str, Any]]]] = defaultdict(list)
    for visit, data in db.execute(query.order_by(Visit.id)):
        card = (data or {}).get("scorecard")
        if not isinstance(card, dict) or not isinstance(card.get("items"), list):
            continue
        total = float(card.get("total") or 0.0)
        for item in card["items"]:
            if isinstance(item, dict) and item.get("evidence") and item.get("value") is not None:
                graded[str(item["id"])].append((float(item["score"]), total, visit, item))
    clipped = {(c.visit_id, c.start, c.end) for c in db.scalars(select(Clip))}
    taken: set[tuple[str, float]] = set()
    out: list[Moment] = []
    for item_id, rows in graded.items():
        best = sorted((r for r in rows if r[3].get("passed")), key=lambda r: (-r[0], -r[1]))
        worst = sorted((r for r in rows if r[3].get("passed") is False), key=lambda r: r[:2])
        for kind, ranked in (("best", best), ("worst", worst)):
            out += _moments(item_id, kind, ranked, per_item, clipped, taken)
    texts = _span_texts(db, out)
    return [replace(m, text=texts.get((m.visit_id, m.start, m.end), "")) for m in out]


def _moments(
    item_id: str,
    kind: str,
    ranked: Sequence[tuple[float, float, Visit, dict[str, Any]]],
    wanted: int,
    clipped: set[tuple[str, float, float]],
    taken: set[tuple[str, float]],
) -> list[Moment]:
    """The first wanted evidence stretches of the ranked visits not clipped nor taken yet."""
    out: list[Moment] = []
    for score, _, visit, item in ranked:
        for span in item["evidence"]:
            start, end = float(span["start"]), float(span["end"])
            overlaps = any(v == visit.id and s < end and start < e for v, s, e in clipped)
            if overlaps or (visit.id, start) in taken:
                continue
            taken.add((visit.id, start))
            out.append(
                Moment(
                    item=item_id,
                    label=str(item.get("label", item_id)),
                    kind=kind,
                    visit_id=visit.id,
                    title=visit.title or "",
                    rep=visit.rep,
                    start=start,
                    end=end,
                    note=str(span.get("note", "")),
                    score=score,
                    value=item.get("value"),
                )
            )
            break  # one moment per visit and item
        if len(out) >= wanted:
            break
    return out


def _span_texts(db: Session, moments: Sequence[Moment]) -> dict[tuple[str, float, float], str]:
    """What was said within each moment, its overlapping transcript segments joined."""
    out: dict[tuple[str, float, float], str] = {}
    for m in moments:
        said = db.scalars(
            select(SegmentRow.text)
            .where(SegmentRow.visit_id == m.visit_id, SegmentRow.end > m.start)
            .where(SegmentRow.start < m.end)
            .order_by(SegmentRow.idx)
        )
        out[(m.visit_id, m.start, m.end)] = " ".join(said)
    return out


def examples(db: Session, *, items: Sequence[str], exclude_visit_id: str) -> dict[str, ClipView]:
    """Per scorecard item id, a library clip to learn it from: one tagged with the id (as clips
    kept from the suggestions are), never one tagged "worst", none of the excluded visit; a clip
    also tagged "best" first, then one in a playlist, then the newest."""
    wanted = set(items)
    if not wanted:
        return {}
    clips = db.scalars(
        select(Clip).where(Clip.visit_id != exclude_visit_id).order_by(Clip.id.desc())
    ).all()
    chosen: dict[str, Clip] = {}
    for clip in sorted(
        (c for c in clips if "worst" not in c.tags),
        key=lambda c: ("best" not in c.tags, c.playlist_id is None),
    ):
        for item in wanted & set(clip.tags):
            chosen.setdefault(item, clip)
    texts = _clip_texts(db, list(chosen.values()))
    titles: dict[str, str] = {
        visit_id: title or ""
        for visit_id, title in db.execute(
            select(Visit.id, Visit.title).where(Visit.id.in_({c.visit_id for c in chosen.values()}))
        )
    }
    return {
        item: ClipView(clip, titles.get(clip.visit_id, ""), texts.get(clip.id, ""))
        for item, clip in chosen.items()
    }
