"""Action items (who promised what, by when) from visit utterances, zh/en due dates resolved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np

from nlp.clauses import MAX_CHARS, Turn, is_thin, join_turns, split_clauses, text_overlap
from nlp.due_dates import resolve_due
from nlp.promise_rules import (
    asks_for,
    asks_other,
    asks_when,
    is_accept,
    is_bare,
    is_offer,
    is_own_step,
    is_question,
    never_binds,
    other_does,
    proposes,
    says_yes,
    to_listener,
)
from nlp.vocabulary import Role

__all__ = [
    "ACTS",
    "Act",
    "ActPredictor",
    "ActionItem",
    "Owner",
    "extract_actions",
    "resolve_due",
    "text_overlap",
]

Owner = Literal[Role.REP, Role.CUSTOMER]


@dataclass
class ActionItem:
    owner: Owner
    text: str  # the promise itself, one clause
    due: date | None
    start: float | None  # seconds into the recording of the utterance that made it
    quote: str  # the utterance it was said in (with the request it answers, when it answers one)


Act = Literal["none", "commit", "request"]
ACTS: tuple[Act, ...] = ("none", "commit", "request")  # the columns an ActPredictor answers
ActPredictor = Callable[[Sequence[str]], Any]  # texts -> (n, 3) P(none, commit, request)
_MAX_QUOTE = 500
_RESTATED = 0.2  # text overlap at which a dated promise replaces an earlier undated one
_TURN_SHARE = 0.5  # a clause is read with this share of its whole turn (chosen on evals/dev)
_CLAUSE_NONE = 0.8  # a clause the model alone finds this surely none stays none (evals/dev)
_MIN_ACT = 0.5  # a clause is a promise or request when its blend reaches this (evals/dev)


@dataclass
class _Clause:
    turn: int
    text: str
    due: date | None
    act: Act = "none"


def _read_acts(clauses: list[_Clause], turns: Sequence[Turn], acts: ActPredictor) -> None:
    """Each clause's act: the model's, read with its turn's, then corrected by its wording."""
    probs = np.asarray(acts([c.text for c in clauses]), dtype=np.float32)
    turn_probs = np.asarray(acts([t.text[:MAX_CHARS] for t in turns]), dtype=np.float32)
    for c, p in zip(clauses, probs, strict=True):
        blend = (1 - _TURN_SHARE) * p + _TURN_SHARE * turn_probs[c.turn]
        k = int(np.argmax(blend))
        act = ACTS[k] if blend[k] >= _MIN_ACT and p[0] < _CLAUSE_NONE else "none"  # p[0]: none
        if act == "none" and blend[1] + blend[2] >= _MIN_ACT:
            act = _directed_act(c.text)  # a promise or an ask: the wording says whose
        c.act = _worded_act(act, c.text)


def _directed_act(clause: str) -> Act:
    """For a clause that binds someone: the speaker ("…发给您") or the other side ("your team
    pulls the logs", "麻烦您…"); "none" where the wording doesn't say."""
    if to_listener(clause):
        return "commit"
    if asks_other(clause) or other_does(clause):
        return "request"
    return "none"


def _worded_act(act: Act, clause: str) -> Act:
    """The model's act corrected where the wording settles it."""
    if act == "request" and (is_own_step(clause) or to_listener(clause)):
        return "commit"  # "我需要跟finance确认一下", "2月24号之前给您一份方案"
    if proposes(clause):
        return "commit"  # the speaker's plan; binds once the other side says yes
    if act != "commit":
        return act
    if never_binds(clause):
        return "none"
    if asks_other(clause) or other_does(clause):
        return "request"  # theirs once they say yes
    return act


class _Visit:
    """The turns and clauses of one visit, and the items found so far."""

    def __init__(self, turns: list[Turn], clauses: list[_Clause], visit_date: date):
        self.turns = turns
        self.clauses = clauses
        self.visit_date = visit_date
        self.first_act: dict[int, Act] = {}
        for c in clauses:
            self.first_act.setdefault(c.turn, c.act)
        self.items: list[ActionItem] = []
        self.made_at: list[int] = []  # turn index of each item

    def reply(self, turn: int) -> int | None:
        """The other side's next turn, when it comes right after."""
        nxt = turn + 1
        if nxt < len(self.turns) and self.turns[nxt].role in (Role.REP, Role.CUSTOMER):
            return nxt if self.turns[nxt].role != self.turns[turn].role else None
        return None

    def accepted(self, turn: int) -> bool:
        """The other side's next turn starts with a yes."""
        reply = self.reply(turn)
        return reply is not None and says_yes(self.turns[reply].text)

    def replies(self, turn: int) -> bool:
        """The turn before is the other side's."""
        return turn > 0 and self.turns[turn - 1].role not in (None, self.turns[turn].role)

    def answers(self, turn: int) -> bool:
        """The turn before, by the other side, asks a question or makes a request."""
        if not self.replies(turn):
            return False
        return is_question(self.turns[turn - 1].text) or self.first_act.get(turn - 1) == "request"

    def add(self, item: ActionItem, turn: int) -> None:
        """Keep item unless it repeats one; a recap that says a promise again with the same
        date adds its words to the first item's quote; a dated restatement replaces a vaguer
        promise."""
        if any(_same_item(item, other) for other in self.items):
            return
        if first := next((o for o in self.items if _repeats(o, item)), None):
            if item.text not in first.quote:
                first.quote = f"{first.quote} … {item.text}"
            return
        if item.due is not None:
            keep = [k for k, o in enumerate(self.items) if not _restated(o, item)]
            self.items[:] = [self.items[k] for k in keep]
            self.made_at[:] = [self.made_at[k] for k in keep]
        self.items.append(item)
        self.made_at.append(turn)


def extract_actions(
    utterances: Sequence[tuple[str | None, str, float | None]],
    visit_date: date,
    acts: ActPredictor,
) -> list[ActionItem]:
    """Promises in (role, text, start_s) utterances. `acts` tells per clause whether the speaker
    commits (the speaker owns it), asks the other side (theirs once they say yes) or neither.
    Consecutive utterances of one speaker are read as one turn, so a recap that the
    transcriber cut into several segments stays one recap."""
    turns = join_turns(utterances)
    clauses = [
        _Clause(k, piece.text, piece.due)
        for k, turn in enumerate(turns)
        if turn.role in (Role.REP, Role.CUSTOMER) and turn.text
        for piece in split_clauses(turn.text[:MAX_CHARS], visit_date)
    ]
    _read_acts(clauses, turns, acts)
    visit = _Visit(turns, clauses, visit_date)
    for c in clauses:
        item = _item_of(visit, c)
        if item is not None:
            visit.add(item, c.turn)
    return visit.items


def _item_of(visit: _Visit, c: _Clause) -> ActionItem | None:
    """The action item a clause makes, if any."""
    turn = visit.turns[c.turn]
    owner: Owner = Role.REP if turn.role == Role.REP else Role.CUSTOMER
    act, due = c.act, c.due
    if act == "none" and due is not None:
        if visit.answers(c.turn) and is_accept(c.text):
            act = "commit"  # "什么时候给答复？" "好的，明天就答复您": a dated yes
        elif asks_for(c.text):
            act = "request"  # "能不能四月中旬之前交付？": theirs once they say yes
    if act == "request":
        reply = visit.reply(c.turn)
        if reply is None or _restated_in(visit, reply, c):
            return None  # never answered, or the reply's own promise is the item
        if not visit.accepted(c.turn):
            return None  # asked, never agreed to
        owner = Role.CUSTOMER if owner == Role.REP else Role.REP
        due = due or resolve_due(visit.turns[reply].text[:_MAX_QUOTE], visit.visit_date)
    elif act != "commit":
        return None
    elif (is_offer(c.text) or proposes(c.text)) and not visit.accepted(c.turn):
        return None  # an offer ("我们可以安排参观") or plan nobody said yes to
    return _promise(visit, c, owner, due)


def _promise(visit: _Visit, c: _Clause, owner: Owner, due: date | None) -> ActionItem | None:
    """The item for a promise clause, or None where it only answers or dates another."""
    turn = visit.turns[c.turn]
    body = turn.text[:MAX_CHARS]
    previous = visit.turns[c.turn - 1].text if c.turn else ""
    quote = body[:_MAX_QUOTE]
    start = turn.start_at(body.find(c.text[:8]))  # a clause may be parts joined again
    what = c.text
    if is_thin(c.text) or (is_accept(c.text) and visit.replies(c.turn)):
        quote = f"{previous[:_MAX_QUOTE]} {quote}"  # "好的，明天就发" answers what was said
    if is_thin(c.text) and _adds_nothing(visit, c, owner, due):
        return None
    if is_bare(c.text):
        request = _answered_request(visit, c)
        if request is None:
            return None
        what, due = request.text, due or request.due
    return ActionItem(owner, what.strip(" ，,。.;；"), due, start, quote)


def _adds_nothing(visit: _Visit, c: _Clause, owner: Owner, due: date | None) -> bool:
    """A thin promise that only says yes to the other side's plan ("行，周二上午我在"), only
    leads in to the fuller promise of its turn ("He'll be here. I'll block the machine."), or
    dates or repeats an earlier one."""
    if is_accept(c.text) and c.turn > 0 and proposes(visit.turns[c.turn - 1].text):
        return True
    fuller = [o for o in visit.clauses if o.turn == c.turn and o is not c and o.act == "commit"]
    if due is None and any(not is_thin(o.text) for o in fuller):
        return True
    return _dates_or_repeats(visit, owner, c.turn, due)


def _dates_or_repeats(visit: _Visit, owner: Owner, turn: int, due: date | None) -> bool:
    """A thin dated answer dates the owner's latest undated promise ("什么时候能到？" "好的，
    这周之内寄出"), and a thin "Will do" right after the same promise adds nothing."""
    if due is not None and turn > 0 and asks_when(visit.turns[turn - 1].text):
        for k in range(len(visit.items) - 1, -1, -1):
            if turn - visit.made_at[k] > 4:
                break
            if visit.items[k].owner == owner and visit.items[k].due is None:
                visit.items[k].due = due
                visit.made_at[k] = turn
                return True
    return any(
        o.owner == owner and o.due == due and turn - at <= 2
        for o, at in zip(visit.items, visit.made_at, strict=True)
    )


def _answered_request(visit: _Visit, c: _Clause) -> _Clause | None:
    """The request a bare yes ("好的", "Will do") takes on, or None when it answers none or the
    promise is a fuller clause of the same turn ("好的，我回去跟老板确认…")."""
    same_turn = [o for o in visit.clauses if o.turn == c.turn]
    if any(o.act == "commit" and not is_bare(o.text) for o in same_turn):
        return None
    if not visit.replies(c.turn):
        return None
    requests = [o for o in visit.clauses if o.turn == c.turn - 1 and o.act == "request"]
    return requests[-1] if requests else None


def _restated_in(visit: _Visit, turn: int, c: _Clause) -> bool:
    """A promise of `turn` answers what clause c asks for: c names no date, or the same one,
    or the same words."""
    return any(
        o.turn == turn
        and o.act == "commit"
        and not is_bare(o.text)
        and (c.due in (None, o.due) or _overlap(o.text, c.text) >= _RESTATED)
        for o in visit.clauses
    )


def _overlap(a: str, b: str) -> float:
    return max(text_overlap(a, b), text_overlap(b, a))


def _restated(old: ActionItem, new: ActionItem) -> bool:
    """new (dated) says again what old (same owner, undated or due within a week) promised."""
    if old.owner != new.owner or new.due is None:
        return False
    overlap = _overlap(old.text, new.text)
    if old.due is None:
        return overlap >= _RESTATED
    return abs((old.due - new.due).days) <= 7 and overlap >= 2 * _RESTATED


def _repeats(old: ActionItem, new: ActionItem) -> bool:
    """new says again, with the same due date, what old promised."""
    return (
        old.owner == new.owner
        and new.due is not None
        and old.due == new.due
        and _overlap(old.text, new.text) >= _RESTATED
    )


def _same_item(a: ActionItem, b: ActionItem) -> bool:
    return a.owner == b.owner and a.due == b.due and _overlap(a.text, b.text) > 0.7
