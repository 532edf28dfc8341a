"""Objection playbooks: the rep's answers to a customer's pain point or doubt, what followed them,
and near-identical answers grouped, as pure functions of turns and vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nlp.vocabulary import Outcome, Risk, Role, Sentiment

RISK_OBJECTIONS = (Risk.DOUBT, Risk.CHURN)
MAX_ANSWER_TURNS = 2  # consecutive rep turns that make one answer
FOLLOW_TURNS = 2  # customer turns after the answer that tell how it landed
SAME_ANSWER = 0.85  # cosine at or above which two answers count as one
WEIGHTS = {"positive": 0.35, "sentiment": 0.25, "commitment": 0.2, "outcome": 0.2}
OUTCOME_VALUE: dict[str, float] = {Outcome.WON: 1.0, Outcome.LOST: -1.0}


def is_objection(label: str) -> bool:
    return label.startswith("pain.") or label in RISK_OBJECTIONS


@dataclass(frozen=True)
class Turn:
    idx: int
    role: str | None  # rep | customer | other
    text: str
    start: float  # s
    end: float
    sentiment: str  # positive | neutral | negative
    sentiment_score: float  # -1..1
    labels: tuple[str, ...] = ()  # need/pain and risk ids


@dataclass(frozen=True)
class Answer:
    """The rep's turn(s) right after a customer's objection, and how the customer reacted."""

    label: str  # pain.<topic>, risk.doubt or risk.churn
    objection_idx: int
    objection_text: str
    answer_idx: int  # the answer's first rep turn
    start: float  # s, of the answer
    end: float
    text: str
    sentiment_delta: float  # the next customer turns' mean score minus the objection's, -2..2
    positive: bool  # a next customer turn was positive
    commitment: bool  # an action item was agreed between the answer and the next customer turns


def find_answers(turns: Sequence[Turn], action_starts: Sequence[float] = ()) -> list[Answer]:
    """Every (objection label, answer) pair of a visit; action_starts are the seconds at which
    the visit's action items were said."""
    out: list[Answer] = []
    for i, turn in enumerate(turns):
        if turn.role != Role.CUSTOMER:
            continue
        for label in (x for x in dict.fromkeys(turn.labels) if is_objection(x)):
            answer = _answer_after(turns, i, label, action_starts)
            if answer is not None:
                out.append(answer)
    return out


def _answer_after(
    turns: Sequence[Turn], i: int, label: str, action_starts: Sequence[float]
) -> Answer | None:
    objection = turns[i]
    j = i + 1
    while j < len(turns) and turns[j].role != Role.REP:
        if turns[j].role == Role.CUSTOMER and label in turns[j].labels:
            return None  # the customer goes on with the same objection; the later turn owns it
        j += 1
    if j == len(turns):
        return None
    reply = [turns[j]]
    while (
        len(reply) < MAX_ANSWER_TURNS
        and j + len(reply) < len(turns)
        and turns[j + len(reply)].role == Role.REP
    ):
        reply.append(turns[j + len(reply)])
    k = j + len(reply)
    after = [t for t in turns[k : k + 2 * FOLLOW_TURNS] if t.role == Role.CUSTOMER][:FOLLOW_TURNS]
    delta = (
        float(np.mean([t.sentiment_score for t in after])) - objection.sentiment_score
        if after
        else 0.0
    )
    window_end = after[-1].end if after else reply[-1].end
    return Answer(
        label=label,
        objection_idx=objection.idx,
        objection_text=objection.text,
        answer_idx=reply[0].idx,
        start=reply[0].start,
        end=reply[-1].end,
        text=" ".join(t.text.strip() for t in reply),
        sentiment_delta=round(delta, 3),
        positive=any(t.sentiment == Sentiment.POSITIVE for t in after),
        commitment=any(reply[0].start <= s <= window_end for s in action_starts),
    )


def answer_score(
    *, positive: bool, sentiment_delta: float, commitment: bool, outcome: str | None
) -> float:
    """How well an answer worked, -0.45..1: a positive reply, a better mood, an agreed next step,
    a won deal."""
    return round(
        WEIGHTS["positive"] * positive
        + WEIGHTS["sentiment"] * max(-1.0, min(1.0, sentiment_delta))
        + WEIGHTS["commitment"] * commitment
        + WEIGHTS["outcome"] * OUTCOME_VALUE.get(outcome or "", 0.0),
        4,
    )


@dataclass(frozen=True)
class Group:
    members: list[int]  # positions in the input, best first
    score: float  # the members' mean score, discounted when they are few
    pinned: bool


def group_answers(
    vectors: npt.NDArray[np.float32],
    scores: Sequence[float],
    *,
    pinned: Sequence[bool] | None = None,
    threshold: float = SAME_ANSWER,
) -> list[Group]:
    """Near-identical answers (unit vectors with cosine >= threshold to a group's best answer)
    grouped, pinned groups first, then by evidence-weighted mean score."""
    n = len(scores)
    pins = list(pinned) if pinned is not None else [False] * n
    order = sorted(range(n), key=lambda i: (not pins[i], -scores[i], i))
    leaders: list[int] = []
    members: list[list[int]] = []
    for i in order:
        if leaders:
            sims = vectors[leaders] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                members[best].append(i)
                continue
        leaders.append(i)
        members.append([i])
    groups = [
        Group(
            members=m,
            score=round(float(np.mean([scores[i] for i in m])) * len(m) / (len(m) + 1), 4),
            pinned=any(pins[i] for i in m),
        )
        for m in members
    ]
    groups.sort(key=lambda g: (not g.pinned, -g.score, g.members[0]))
    return groups
