"""The best-practice library for trainers: playlists, clips and suggested moments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.access import Caller, Me
from api.deps import MAX_ID, Db, RowId
from api.links import audio_link
from api.schemas import Body
from knowledge import audit, library, visits
from knowledge.library import ClipIn, ClipView
from knowledge.models import Playlist

router = APIRouter(tags=["library"])


class PlaylistIn(Body):
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class ClipBody(Body):
    visit_id: str
    start: float = Field(description="seconds from the start of the recording")
    end: float
    note: str | None = Field(default=None, max_length=5000)
    tags: list[str] = Field(default_factory=list)
    playlist_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class PlaylistOut(BaseModel):
    id: int
    name: str
    description: str | None
    clip_count: int
    created_at: str = Field(description="ISO 8601, UTC")


class PlaylistsOut(BaseModel):
    items: list[PlaylistOut]


class ClipOut(BaseModel):
    id: int
    playlist_id: int | None
    visit_id: str
    visit_title: str
    start: float = Field(description="seconds from the start of the recording")
    end: float
    note: str | None
    tags: list[str]
    text: str = Field(description="what was said in it, masked for masked roles")
    link: str = Field(description="signed audio link that plays from start")


class PlaylistClipsOut(PlaylistOut):
    clips: list[ClipOut]


class LibraryOut(BaseModel):
    playlists: list[PlaylistClipsOut]
    unsorted: list[ClipOut] = Field(description="clips in no playlist")


class MomentOut(BaseModel):
    item: str = Field(description="scorecard item id")
    label: str = Field(description="the item's name")
    kind: str = Field(description="best or worst")
    visit_id: str
    title: str
    rep: str | None
    start: float
    end: float
    note: str = Field(description="what the stretch shows")
    score: float = Field(description="the item's score in that visit, 0..1")
    value: float | None = Field(description="the item's measured value there")
    text: str = Field(description="what was said in it, masked for masked roles")
    link: str


class SuggestionsOut(BaseModel):
    items: list[MomentOut]


def playlist_out(p: Playlist, clips: int) -> PlaylistOut:
    return PlaylistOut(
        id=p.id,
        name=p.name,
        description=p.description,
        clip_count=clips,
        created_at=p.created_at.isoformat(),
    )


def clip_out(v: ClipView, me: Caller, names: Sequence[str] = ()) -> ClipOut:
    """A clip as this caller sees it; its audio link opens that recording for them alone."""
    c = v.clip
    return ClipOut(
        id=c.id,
        playlist_id=c.playlist_id,
        visit_id=c.visit_id,
        visit_title=v.visit_title,
        start=c.start,
        end=c.end,
        note=c.note,
        tags=list(c.tags),
        text=me.shown(v.text, names),
        link=audio_link(me.signer, c.visit_id, c.start),
    )


@router.post("/library/playlists", status_code=201)
def create_playlist(body: PlaylistIn, db: Db, me: Me) -> PlaylistOut:
    playlist = library.create_playlist(db, name=body.name, description=body.description)
    audit.record(db, actor=me.actor, action="change", object_type="playlist", detail=body.name)
    try:
        db.commit()
    except IntegrityError as e:  # the same name created by a concurrent request
        db.rollback()
        raise library.PlaylistExists(f"A playlist named '{body.name}' exists already.") from e
    return playlist_out(playlist, 0)


@router.get("/library/playlists")
def list_playlists(db: Db) -> PlaylistsOut:
    return PlaylistsOut(items=[playlist_out(p, n) for p, n in library.playlists(db)])


@router.delete("/library/playlists/{playlist_id}", status_code=204)
def delete_playlist(playlist_id: RowId, db: Db, me: Me) -> Response:
    library.delete_playlist(db, playlist_id=playlist_id)
    audit.record(
        db, actor=me.actor, action="delete", object_type="playlist", object_id=str(playlist_id)
    )
    db.commit()
    return Response(status_code=204)


@router.post("/library/clips", status_code=201)
def add_clip(body: ClipBody, db: Db, me: Me) -> ClipOut:
    visits.get(db, visit_id=body.visit_id, scope=me.scope)
    clip = library.add_clip(
        db,
        clip=ClipIn(
            visit_id=body.visit_id,
            start=body.start,
            end=body.end,
            note=body.note,
            tags=tuple(body.tags),
            playlist_id=body.playlist_id,
        ),
    )
    audit.record(db, actor=me.actor, action="change", object_type="clip", object_id=body.visit_id)
    db.commit()
    return clip_out(library.view_clip(db, clip=clip), me)


@router.delete("/library/clips/{clip_id}", status_code=204)
def delete_clip(clip_id: RowId, db: Db, me: Me) -> Response:
    library.delete_clip(db, clip_id=clip_id)
    audit.record(db, actor=me.actor, action="delete", object_type="clip", object_id=str(clip_id))
    db.commit()
    return Response(status_code=204)


@router.get("/library")
def read_library(db: Db, me: Me) -> LibraryOut:
    playlists, unsorted = library.library(db)
    clips = [*unsorted, *(c for v in playlists for c in v.clips)]
    contacts = visits.contacts_of(db, visit_ids={c.clip.visit_id for c in clips})
    return LibraryOut(
        playlists=[
            PlaylistClipsOut(
                **playlist_out(v.playlist, len(v.clips)).model_dump(),
                clips=[clip_out(c, me, contacts[c.clip.visit_id]) for c in v.clips],
            )
            for v in playlists
        ],
        unsorted=[clip_out(c, me, contacts[c.clip.visit_id]) for c in unsorted],
    )


@router.get("/library/suggestions")
def read_suggestions(
    db: Db, me: Me, per_item: Annotated[int, Query(ge=1, le=5)] = 1
) -> SuggestionsOut:
    """Moments worth a clip: per scorecard item the best and the worst of the caller's visits,
    each with what was said and a link that plays it."""
    moments = library.suggest(db, scope=me.scope, per_item=per_item)
    contacts = visits.contacts_of(db, visit_ids={m.visit_id for m in moments})
    return SuggestionsOut(
        items=[
            MomentOut(
                **(asdict(m) | {"text": me.shown(m.text, contacts[m.visit_id])}),
                link=audio_link(me.signer, m.visit_id, m.start),
            )
            for m in moments
        ]
    )
