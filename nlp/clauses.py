"""A visit's turns cut into clauses that can each hold one promise, with the due date each names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from nlp.due_dates import DATE_RE, deadline, find_dates
from nlp.promise_rules import is_bare
from nlp.vocabulary import Role

MAX_CHARS = 4000
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Turn:
    role: str | None
    text: str
    marks: list[tuple[int, float | None]] = field(default_factory=list)  # (offset, start_s)

    def start_at(self, offset: int) -> float | None:
        """Start time of the utterance that holds the character at offset."""
        start = self.marks[0][1] if self.marks else None
        for at, moment in self.marks:
            if at <= offset:
                start = moment
        return start


def join_turns(utterances: Sequence[tuple[str | None, str, float | None]]) -> list[Turn]:
    """Consecutive utterances of one speaker joined into one turn (a recap the transcriber cut
    into segments stays one recap), each remembering where its utterances start."""
    turns: list[Turn] = []
    for role, text, start in utterances:
        text = text or ""
        last = turns[-1] if turns else None
        if last and text and role in (Role.REP, Role.CUSTOMER) and last.role == role:
            last.text += " "
            last.marks.append((len(last.text), start))
            last.text += text
        else:
            turns.append(Turn(role, text, [(0, start)]))
    return turns


_SENTENCE = re.compile(
    r"(?<=[。！？!?；;])|(?<=[.])\s+|第[一二三四五六七八九十](?:点|条)?[，,、：:]"
    r"|(?:首先|其次|另外|还有|最后)[，,、：:]?"
)
_CLAUSE = re.compile(r"[，,]\s*(?:and\s+)?|\s+and\s+(?=(?:our|the|a|an|we|I|I'll|we'll)\b)")
_NEW_SUBJECT = re.compile(
    r"(?:[，,]\s*|\s+and\s+)"
    r"(?=(?:I'll|I will|we'll|we will|let me)\b|(?:我|我们)(?:这边)?(?:会|来|把|回去|让|收到)|"
    r"(?:您|你)(?:这边|那边)?(?:跟|和|给|先|再|回去|内部))",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(  # "我总结一下：", "To recap:", "那我捋一下，", "So, to recap,"
    r"^[^:：。.]{1,20}[:：]\s*|^[^。.]{0,12}?(?:总结|捋|理|汇总|重复)一下[哈啊吧]?[，,\s]*|"
    r"^(?:so|okay|ok|alright|great)?[,\s]*(?:just\s+)?"
    r"(?:to recap|to sum up|to summari[sz]e|let me recap)[,\s]*",
    re.IGNORECASE,
)
# A step on the way to the promise ("我回去跟老板确认", "I'll talk to my manager") is one promise
# with the dated deliverable that follows it in the same sentence.
_PREP = re.compile(
    r"回去|跟.{0,8}(?:确认|商量|沟通|汇报|申请)|找.{0,6}(?:副总|老板|领导|经理|总监)|汇报|"
    r"\b(?:talk|speak|check|confer)\s+(?:to|with)\b|\bask\s+(?:my|our)\b",
    re.IGNORECASE,
)
_EN_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "you",
        "your",
        "our",
        "will",
        "can",
        "this",
        "that",
        "have",
        "from",
        "send",
        "get",
        "all",
        "any",
        "are",
        "was",
        "were",
        "been",
        "their",
        "them",
        "they",
        "who",
        "what",
        "when",
        "which",
        "into",
        "about",
        "also",
        "just",
    ]
)


@dataclass
class Piece:
    text: str
    due: date | None
    dated: bool  # names a due date of its own


def _joined(first: str, then: str) -> str:
    """Two parts of a sentence put back together with the comma of its language."""
    return f"{first}，{then}" if _CJK.search(then) else f"{first}, {then}"


def is_thin(clause: str) -> bool:
    """A promise with no object of its own ("好的，明天就发", "Will do, by Monday")."""
    rest = DATE_RE.sub("", clause.lower())
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", rest)
    words = set(re.findall(r"[a-z]{3,}", rest)) - _EN_STOP - {"will", "i'll", "okay", "sure"}
    return len(cjk) <= 8 and len(words) <= 3


def _group_by_date(parts: Sequence[str], visit: date) -> list[Piece]:
    """Parts of one sentence grouped so that each group ends at the deadline it names: a start
    date, a step on the way ("我回去马上汇报"), a name or an object-less verb waits for it."""
    out: list[Piece] = []
    lead, lead_due = "", None
    for part in parts:
        found = find_dates(part, visit)
        due = deadline([m for m in found if not m.starts_work])
        text = _joined(lead, part) if lead else part
        if not found and not lead and out and out[-1].dated and len(part) < 40:
            out[-1].text = _joined(out[-1].text, part)  # a tail ("一式四份") of the item before
        elif due is not None and not (is_bare(lead) and (is_bare(part) or _PREP.search(part))):
            out.append(Piece(text, due, True))
            lead, lead_due = "", None
        else:
            lead, lead_due = text, due or lead_due
    if lead and lead_due is None and out and is_bare(lead):
        out[-1].text = _joined(out[-1].text, lead)
    elif lead:
        out.append(Piece(lead, lead_due, lead_due is not None))
    return out


def _split_items(sentence: str, visit: date) -> list[Piece]:
    """One item per deadline: a sentence naming two is split at commas between them."""
    found = find_dates(sentence, visit)
    if len([m for m in found if not m.starts_work]) <= 1:
        return [Piece(sentence, deadline(found), bool(found))]
    parts = [p for p in _CLAUSE.split(sentence) if p and p.strip()]
    return _group_by_date(parts, visit)


_CONDITION = re.compile(r"^(?:\w+,?\s+)?(?:if|unless|once)\b|^(?:如果|要是|假如|等)", re.I)


def _with_conditions(parts: Sequence[str]) -> list[str]:
    """Parts of a sentence, a condition ("if the trial goes well") kept with what it governs."""
    out: list[str] = []
    held = False  # the last part is a condition waiting for its main clause
    for part in (p.strip() for p in parts if p and p.strip()):
        if held:
            out[-1] = _joined(out[-1], part)
        else:
            out.append(part)
        held = not held and bool(_CONDITION.match(part))
    return out


_PERSON = re.compile(r"[我您你他她咱]")


def _with_topics(parts: list[str]) -> list[str]:
    """A Chinese topic ("三号库的图纸，我让设计院明天发你") kept with the promise about it."""
    out: list[str] = []
    for part in parts:
        if out and _is_topic(out[-1]):
            out[-1] = _joined(out[-1], part)
        else:
            out.append(part)
    return out


def _is_topic(part: str) -> bool:
    """A short Chinese noun phrase: no person in it, no date, no Latin words."""
    return (
        len(part) <= 16
        and bool(_CJK.search(part))
        and not re.search(r"[a-zA-Z]", part)
        and not _PERSON.search(part)
        and not DATE_RE.search(part)
    )


def split_clauses(text: str, visit: date) -> list[Piece]:
    """The clauses of a turn that can each hold one promise, with the date each names."""
    sentences = [_LEAD_IN.sub("", s).strip() for s in _SENTENCE.split(text) if s and s.strip()]
    pieces = [p for s in sentences for p in _with_topics(_with_conditions(_NEW_SUBJECT.split(s)))]
    return [item for piece in pieces for item in _split_items(piece, visit)]


def tokens(text: str) -> set[str]:
    """English words of three letters or more (no stop words) and Chinese character bigrams."""
    t = text.lower()
    words = set(re.findall(r"[a-z0-9]{3,}", t)) - _EN_STOP
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", t)
    return words | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def text_overlap(gold: str, got: str) -> float:
    """Share of the gold text's words (en) or character bigrams (zh) found in the other text."""
    g = tokens(gold)
    return len(g & tokens(got)) / len(g) if g else 0.0
