"""Action items (who promised what, by when) from visit utterances, zh/en due dates resolved."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

Owner = Literal["rep", "customer"]


@dataclass
class ActionItem:
    owner: Owner
    text: str  # the promise itself, one clause
    due: date | None
    start: float | None  # seconds into the recording of the utterance that made it
    quote: str  # the utterance it was said in (with the request it answers, when it is a bare yes)


Act = Literal["none", "commit", "request"]
ACTS: tuple[Act, ...] = ("none", "commit", "request")  # the columns an ActPredictor answers
_MAX_CHARS = 4000
_MAX_QUOTE = 500
_RESTATED = 0.2  # text overlap at which a dated promise replaces an earlier undated one
_ZH_NUM = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "半": 0,
}
_ZH_DAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 4}
_EN_DAY = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_EN_DAY.update({d.lower(): i for i, d in enumerate(calendar.day_abbr)})
_EN_MONTH = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_EN_MONTH.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_EN_NUM = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "few": 3,
}

_ZH_N = r"(\d+|[一二两俩三四五六七八九十]+|半)"
_EN_N = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few)"
_DAY_NAMES = "|".join(sorted(_EN_DAY, key=len, reverse=True))
_MONTH_NAMES = "|".join(sorted(_EN_MONTH, key=len, reverse=True))

# One pattern per kind of phrase; each names its groups so _resolve knows what it has.
_ZH_PATTERNS = [
    (
        "zh_md",
        r"(?:(\d{4})年)?(\d{1,2}|[一二三四五六七八九十]+)月(\d{1,2}|[一二三四五六七八九十]+)[日号]",
    ),
    ("zh_month_part", r"(\d{1,2}|[一二三四五六七八九十]+)月(?:份)?(上旬|中旬|下旬|初|底|末)"),
    ("zh_next_weekday", r"下(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])"),
    ("zh_weekday", r"(?:这|本)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])"),
    ("zh_next_week", r"下(?:个)?(?:周|星期|礼拜)"),
    ("zh_this_week", r"(?:这|本)(?:个)?(?:周|星期|礼拜)"),
    ("zh_next_month_end", r"下(?:个)?月(?:底|末)"),
    ("zh_month_end", r"(?:这个|本)?月(?:底|末)"),
    ("zh_next_month_start", r"下(?:个)?月(?:初)?"),
    ("zh_quarter_end", r"(?:这个|本)?季度(?:末|底)"),
    ("zh_year_end", r"(?:今|这)?年(?:底|末)"),
    ("zh_in_days", rf"{_ZH_N}(?:个)?(?:工作日|天)(?:之内|以内|内|后|之后)?"),
    ("zh_in_weeks", rf"{_ZH_N}(?:个)?(?:周|星期|礼拜)(?:之内|以内|内|后|之后)"),
    ("zh_day_of_month", r"(\d{1,2})[号日](?:之前|以前|前)"),
    ("zh_day_after_tomorrow", r"大后天|后天"),
    ("zh_tomorrow", r"明天|明日|明早|明儿"),
    ("zh_today", r"今天|今日|当天|今晚|马上|下班前"),
]
_EN_PATTERNS = [
    ("en_month_day", rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b"),
    ("en_day_month", rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAMES})\b"),
    ("en_month_part", rf"\b(?:(mid|early|late)[- ]|end of\s+)({_MONTH_NAMES})\b"),
    ("en_next_weekday", rf"\bnext\s+({_DAY_NAMES})\b"),
    ("en_weekday", rf"\b(?:this\s+)?({_DAY_NAMES})\b"),
    ("en_end_next_month", r"\bend of next month\b"),
    ("en_month_end", r"\b(?:the\s+)?(?:end of (?:the|this) month|month[- ]end|end of month)\b"),
    ("en_end_week", r"\b(?:end of (?:the|this) week|end of week)\b"),
    ("en_next_week", r"\bnext week\b"),
    ("en_this_week", r"\bthis week\b"),
    ("en_next_month", r"\bnext month\b"),
    ("en_quarter_end", r"\b(?:end of (?:the|this) quarter|quarter[- ]end)\b"),
    ("en_year_end", r"\b(?:end of (?:the|this) year|year[- ]end)\b"),
    ("en_in_business_days", rf"\b(?:within|in)\s+{_EN_N}\s+(?:business|working)\s+days?\b"),
    ("en_in_days", rf"\b(?:within|in)\s+(?:the\s+next\s+)?{_EN_N}\s+days?\b"),
    ("en_in_weeks", rf"\b(?:within|in)\s+(?:the\s+next\s+)?{_EN_N}\s+weeks?\b"),
    ("en_day_of_month", r"\bby the (\d{1,2})(?:st|nd|rd|th)\b"),
    ("en_tomorrow", r"\btomorrow\b"),
    (
        "en_today",
        r"\b(?:today|tonight|end of (?:the )?day|eod|this afternoon|this morning|"
        r"right away|straight away)\b",
    ),
]
_N_GROUPS = {name: re.compile(rx).groups for name, rx in _ZH_PATTERNS + _EN_PATTERNS}
_DATE_RE = re.compile(
    "|".join(f"(?P<{name}>{rx})" for name, rx in _ZH_PATTERNS + _EN_PATTERNS), re.IGNORECASE
)


def _zh_int(s: str) -> int:
    if s.isdigit():
        return int(s)
    if s == "半":
        return 0
    if "十" in s:
        left, _, right = s.partition("十")
        return (_ZH_NUM.get(left, 1) if left else 1) * 10 + (_ZH_NUM.get(right, 0) if right else 0)
    return sum(_ZH_NUM.get(ch, 0) for ch in s)


def _en_int(s: str) -> int:
    s = s.lower().removeprefix("a ").strip() if s.lower().startswith("a ") else s.lower()
    return int(s) if s.isdigit() else _EN_NUM.get(s, 1)


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    y = d.year + m // 12
    return date(y, m % 12 + 1, 1)


def _upcoming(d: date, weekday: int) -> date:
    """The next `weekday` on or after d (today counts)."""
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def _next_week(d: date, weekday: int) -> date:
    """`weekday` of the calendar week (Monday first) after d's."""
    return d - timedelta(days=d.weekday()) + timedelta(days=7 + weekday)


def _business_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dated(visit: date, month: int, day: int, year: int | None) -> date | None:
    got = _safe_date(year or visit.year, month, day)
    if got is not None and year is None and got < visit - timedelta(days=60):
        got = _safe_date(visit.year + 1, month, day)
    return got


def _resolve(kind: str, groups: Sequence[str | None], visit: date, phrase: str) -> date | None:
    g = [x for x in groups if x is not None]
    if kind == "zh_md":
        year = int(groups[0]) if groups[0] else None
        return _dated(visit, _zh_int(g[-2]), _zh_int(g[-1]), year)
    if kind == "zh_month_part":
        first = _dated(visit, _zh_int(g[0]), 1, None) or visit
        part_day = {"上旬": 10, "初": 5, "中旬": 15}.get(g[1])
        return first.replace(day=part_day) if part_day else _month_end(first)
    if kind == "en_month_part":
        part = (groups[0] or "end").lower()
        month = _EN_MONTH[g[-1].lower()]
        first = _dated(visit, month, 1, None) or visit
        part_day = {"early": 10, "mid": 15}.get(part)
        return first.replace(day=part_day) if part_day else _month_end(first)
    if kind in ("zh_next_weekday", "zh_weekday"):
        wd = _ZH_DAY[g[0]]
        return _next_week(visit, wd) if kind == "zh_next_weekday" else _upcoming(visit, wd)
    if kind in ("en_next_weekday", "en_weekday"):
        wd = _EN_DAY[g[0].lower()]
        return _next_week(visit, wd) if kind == "en_next_weekday" else _upcoming(visit, wd)
    if kind in ("zh_next_week", "en_next_week"):
        return _next_week(visit, 4)
    if kind in ("zh_this_week", "en_this_week", "en_end_week"):
        return _upcoming(visit, 4) if visit.weekday() <= 4 else visit
    if kind in ("zh_month_end", "en_month_end"):
        return _month_end(visit)
    if kind in ("zh_next_month_end", "en_end_next_month"):
        return _month_end(_add_months(visit, 1))
    if kind in ("zh_next_month_start", "en_next_month"):
        return (
            _add_months(visit, 1)
            if kind == "zh_next_month_start"
            else _month_end(_add_months(visit, 1))
        )
    if kind in ("zh_quarter_end", "en_quarter_end"):
        q_end_month = ((visit.month - 1) // 3 + 1) * 3
        return _month_end(date(visit.year, q_end_month, 1))
    if kind in ("zh_year_end", "en_year_end"):
        return date(visit.year, 12, 31)
    if kind == "zh_in_days":
        n = _zh_int(g[0])
        return _business_days(visit, n) if "工作日" in phrase else visit + timedelta(days=n)
    if kind == "zh_in_weeks":
        return visit + timedelta(days=7 * max(_zh_int(g[0]), 1))
    if kind == "en_in_business_days":
        return _business_days(visit, _en_int(g[0]))
    if kind == "en_in_days":
        return visit + timedelta(days=_en_int(g[0]))
    if kind == "en_in_weeks":
        return visit + timedelta(days=7 * _en_int(g[0]))
    if kind in ("zh_day_of_month", "en_day_of_month"):
        day = int(g[0])
        got = _safe_date(visit.year, visit.month, day)
        if got is not None and got < visit:
            nxt = _add_months(visit, 1)
            got = _safe_date(nxt.year, nxt.month, day)
        return got
    if kind == "en_month_day":
        return _dated(visit, _EN_MONTH[g[0].lower().rstrip(".")], int(g[1]), None)
    if kind == "en_day_month":
        return _dated(visit, _EN_MONTH[g[1].lower()], int(g[0]), None)
    if kind == "zh_day_after_tomorrow":
        return visit + timedelta(days=3 if g[0].startswith("大") else 2)
    if kind in ("zh_tomorrow", "en_tomorrow"):
        return visit + timedelta(days=1)
    if kind in ("zh_today", "en_today"):
        return visit
    return None


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    text: str
    due: date


def find_dates(text: str, visit_date: date) -> list[DateMention]:
    """Every date phrase in text, resolved against the visit date (in order of appearance)."""
    out: list[DateMention] = []
    for m in _DATE_RE.finditer(text[:_MAX_CHARS]):
        kind = m.lastgroup
        if kind is None:
            continue
        inner = m.re.groupindex[kind]
        groups = m.groups()[inner : inner + _N_GROUPS[kind]] or (m.group(kind),)
        if kind in _SPANS and _after_event(text, m.start(), m.end()):
            continue  # "收到单据后两周内", "within two weeks of delivery": no date yet
        due = _resolve(kind, groups, visit_date, m.group(kind))
        if due is not None:
            out.append(DateMention(m.start(), m.end(), m.group(0), due))
    return out


_SPANS = frozenset(
    ["zh_in_days", "zh_in_weeks", "en_in_days", "en_in_weeks", "en_in_business_days"]
)
_EVENT_BEFORE = re.compile(r"(?:后|以后|之后)\s*$")
_EVENT_AFTER = re.compile(r"^\s*(?:of|after|from|once)\b", re.IGNORECASE)


def _after_event(text: str, start: int, end: int) -> bool:
    """A span counted from an event ("收到后两周内") rather than from the visit."""
    return bool(_EVENT_BEFORE.search(text[max(0, start - 2) : start])) or bool(
        _EVENT_AFTER.match(text[end : end + 12])
    )


def resolve_due(phrase: str, visit_date: date) -> date | None:
    """The first date phrase in `phrase` as a date ("下周五之前", "by end of month"), or None."""
    found = find_dates(phrase, visit_date)
    return found[0].due if found else None


_SENTENCE = re.compile(
    r"(?<=[。！？!?；;])|(?<=[.])\s+|第[一二三四五六七八九十](?:点|条)?[，,、：:]|(?:首先|其次|另外|还有|最后)[，,、：:]?"
)
_CLAUSE = re.compile(r"[，,]\s*(?:and\s+)?|\s+and\s+(?=(?:our|the|a|an|we|I|I'll|we'll)\b)")
_NEW_SUBJECT = re.compile(
    r"(?:[，,]\s*|\s+and\s+)"
    r"(?=(?:I'll|I will|we'll|we will|let me)\b|(?:我|我们)(?:这边)?(?:会|来|把|回去|让)|"
    r"(?:您|你)(?:这边|那边)?(?:跟|和|给|先|再|回去|内部))",
    re.IGNORECASE,
)
_ACCEPT = re.compile(
    r"^(?:好的|好|行|可以|没问题|放心|成|ok|okay|sure|will do|no problem|absolutely|of course|"
    r"agreed|deal|that works|sounds good|fine)"
    r"(?:[，,.!！。\s]|$)",
    re.IGNORECASE,
)
_BARE_WORDS = re.compile(
    r"\b(?:i|i'll|i will|we|we'll|will|do|it|that|this|sure|okay|ok|agreed|understood|noted|"
    r"absolutely|of course|great|good|fine|yes|yeah|no problem|deal|consider it done|done|"
    r"on it|then|so|and|me|you|too|definitely|right|sounds good|perfect|got it|works)\b|"
    r"好的|好|行|可以|没问题|放心|收到|明白|了解|嗯|对|这个|那个|您|你|我们|我|一起|就|马上|"
    r"会|来|办|安排|准备|跟进|处理|吧|啊|呢|了|的|也|前|之前|发给|给|发|一定|肯定|没|问题|"
    r"[\s，,。.!！?？;；:：、~-]+",
)
# A clause that tells the other side what to do ("你们回去确认一下…", "您让采购…") is never the
# speaker's own promise, whatever the model says.
_TELLS_OTHER = re.compile(
    r"^(?:好的?|行|ok|那)?[，,\s]*(?:你|您)们?(?:这边|那边)?"
    r"(?:回去|先|再|把|给|跟|和|让|发|提供|准备|安排|确认|帮|尽快|抓紧|务必|一定)",
    re.IGNORECASE,
)
# An offer ("我们可以…", "we could…") binds the speaker only once the other side says yes.
_OFFER = re.compile(
    r"^(?:好的?|行|可以|ok|so|and|also|那|另外)?[，,\s]*"
    r"(?:(?:我们|我)(?:这边)?也?(?:可以|能)|(?:we|i) (?:can|could)\b)",
    re.IGNORECASE,
)


_STARTS = re.compile(r"开始|起步|\b(?:starts?|starting|begins?|beginning)\b", re.IGNORECASE)


def _split_items(sentence: str, visit: date) -> list[tuple[str, date | None]]:
    """One item per date: a sentence naming two dates is split at commas between them."""
    dates = find_dates(sentence, visit)
    if len(dates) <= 1:
        return [(sentence, dates[0].due if dates else None)]
    out: list[tuple[str, date | None]] = []
    starts = ""  # "2月24号开始换，3月2号前换完": a start date, then the deadline
    for part in (p for p in _CLAUSE.split(sentence) if p and p.strip()):
        d = find_dates(part, visit)
        if d and _STARTS.search(part):
            starts += part + "，"
        elif out and not d and out[-1][1] is not None and len(part) < 40:
            out[-1] = (out[-1][0] + "，" + part, out[-1][1])
        else:
            out.append((starts + part, d[0].due if d else None))
            starts = ""
    if starts:
        out.append((starts.rstrip("，"), find_dates(starts, visit)[0].due))
    return out


ActPredictor = Callable[[Sequence[str]], Any]  # texts -> (n, 3) P(none, commit, request)
_TURN_SHARE = 0.5  # a clause is read with this share of its whole turn (chosen on evals/dev)
_MIN_ACT = 0.5  # a clause is a promise or request when its blend reaches this (evals/dev)


_LEAD_IN = re.compile(r"^[^:：。.]{1,20}[:：]\s*")  # "我总结一下：", "To recap:"


def _pieces(text: str, visit: date) -> list[tuple[str, date | None]]:
    """The clauses of a turn that can each hold one promise, with the date each names."""
    sentences = [_LEAD_IN.sub("", s).strip() for s in _SENTENCE.split(text) if s and s.strip()]
    pieces = [p.strip() for s in sentences for p in _NEW_SUBJECT.split(s) if p and p.strip()]
    return [item for piece in pieces for item in _split_items(piece, visit)]


def extract_actions(
    utterances: Sequence[tuple[str | None, str, float | None]],
    visit_date: date,
    acts: ActPredictor,
) -> list[ActionItem]:
    """Promises in (role, text, start_s) utterances. `acts` tells per clause whether the speaker
    commits (the speaker owns it), asks the other side (theirs once they say yes) or neither.
    Consecutive utterances of one speaker are read as one turn, so a recap that the
    transcriber cut into several segments stays one recap."""
    turns = _join_turns(utterances)
    clauses = [
        (turn, clause, due)
        for turn, (role, text, _) in enumerate(turns)
        if role in ("rep", "customer") and text
        for clause, due in _pieces(text[:_MAX_CHARS], visit_date)
    ]
    probs = np.asarray(acts([c for _, c, _ in clauses]), dtype=np.float32)
    turn_probs = np.asarray(acts([text[:_MAX_CHARS] for _, text, _ in turns]), dtype=np.float32)
    predicted: list[Act] = []
    first_act: dict[int, Act] = {}
    for (turn, clause, _), p in zip(clauses, probs, strict=True):
        blend = (1 - _TURN_SHARE) * p + _TURN_SHARE * turn_probs[turn]
        k = int(np.argmax(blend))
        act = ACTS[k] if blend[k] >= _MIN_ACT else "none"
        if act == "commit" and _TELLS_OTHER.match(clause):
            act = "request"
        predicted.append(act)
        first_act.setdefault(turn, act)
    acted = list(zip(clauses, predicted, strict=True))
    items: list[ActionItem] = []
    made_at: list[int] = []  # turn index of each item
    for (turn, clause, due), act in acted:
        role, text, marks = turns[turn]
        owner: Owner = "rep" if role == "rep" else "customer"
        if act == "none" and due is not None:
            asked = turn > 0 and (
                _is_question(turns[turn - 1][1]) or first_act.get(turn - 1) == "request"
            )
            if asked and _ACCEPT.match(clause):
                act = "commit"  # "什么时候给答复？" "好的，明天就答复您": a dated yes
            elif _is_question(clause):
                act = "request"  # "能不能四月中旬之前交付？": theirs once they say yes
        if act == "request":
            reply = _reply(turns, turn)
            if reply is None or first_act.get(reply) == "commit":
                continue  # never answered, or the reply's own promise is the item
            if not _accepted(turns, turn):
                continue  # asked, never agreed to
            owner = "customer" if owner == "rep" else "rep"
            due = due or resolve_due(turns[reply][1][:_MAX_QUOTE], visit_date)
        elif act != "commit":
            continue
        elif _OFFER.match(clause) and not _accepted(turns, turn):
            continue  # "我们可以安排参观" with no yes from the other side
        body = text[:_MAX_CHARS]
        previous = turns[turn - 1][1] if turn else ""
        quote = body[:_MAX_QUOTE]
        start = _start_of(marks, body.find(clause))
        what = clause
        thin = _is_thin(clause)
        if thin:
            quote = f"{previous[:_MAX_QUOTE]} {quote}"  # "好的，明天就发" answers a request
            if _date_earlier(items, made_at, owner, turn, due):
                continue
            if any(  # "Will do" right after the same promise was noted
                o.owner == owner and o.due == due and turn - at <= 2
                for o, at in zip(items, made_at, strict=True)
            ):
                continue
        if _is_bare(clause):
            if any(t == turn and a == "commit" and not _is_bare(c) for (t, c, _), a in acted):
                continue  # "好的，我回去跟老板确认…": the promise is the clause that follows
            requests = [(c, d) for (t, c, d), a in acted if t == turn - 1 and a == "request"]
            if not requests or turns[turn - 1][0] == role:
                continue  # a bare "好的" that answers no request is no to-do
            what, due = requests[-1][0], due or requests[-1][1]
        item = ActionItem(owner, what.strip(" ，,。.;；"), due, start, quote)
        if not any(_same_item(item, other) for other in items):
            if due is not None:  # a dated restatement replaces the vaguer promise
                keep = [k for k, o in enumerate(items) if not _restated(o, item)]
                items[:] = [items[k] for k in keep]
                made_at[:] = [made_at[k] for k in keep]
            items.append(item)
            made_at.append(turn)
    return items


def _reply(turns: Sequence[tuple[str | None, str, Any]], turn: int) -> int | None:
    """The other side's next turn, when it comes right after."""
    nxt = turn + 1
    if (
        nxt < len(turns)
        and turns[nxt][0] in ("rep", "customer")
        and turns[nxt][0] != turns[turn][0]
    ):
        return nxt
    return None


def _accepted(turns: Sequence[tuple[str | None, str, Any]], turn: int) -> bool:
    """The other side's next turn starts with a yes."""
    reply = _reply(turns, turn)
    return reply is not None and bool(_ACCEPT.match(turns[reply][1].strip()))


def _join_turns(
    utterances: Sequence[tuple[str | None, str, float | None]],
) -> list[tuple[str | None, str, list[tuple[int, float | None]]]]:
    """Consecutive utterances of one speaker joined, with (character offset, start_s) marks."""
    turns: list[tuple[str | None, str, list[tuple[int, float | None]]]] = []
    for role, text, start in utterances:
        text = text or ""
        if turns and text and role in ("rep", "customer") and turns[-1][0] == role:
            _, joined, marks = turns[-1]
            joined += " "
            marks.append((len(joined), start))
            turns[-1] = (role, joined + text, marks)
        else:
            turns.append((role, text, [(0, start)]))
    return turns


def _start_of(marks: Sequence[tuple[int, float | None]], offset: int) -> float | None:
    """Start time of the utterance that holds the character at offset of its turn."""
    start = marks[0][1]
    for at, moment in marks:
        if at <= offset:
            start = moment
    return start


def _is_question(clause: str) -> bool:
    return "?" in clause or "？" in clause or clause.rstrip(" 。.").endswith("吗")


def _is_thin(clause: str) -> bool:
    """A promise with no object of its own ("好的，明天就发", "Will do, by Monday")."""
    rest = _DATE_RE.sub("", clause.lower())
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", rest)
    words = set(re.findall(r"[a-z]{3,}", rest)) - _EN_STOP - {"will", "i'll", "okay", "sure"}
    return len(cjk) <= 8 and len(words) <= 3


def _is_bare(clause: str) -> bool:
    """A yes with nothing of its own to do ("Will do.", "好的", "没问题，我一起准备")."""
    rest = _BARE_WORDS.sub(" ", _DATE_RE.sub(" ", clause.lower()))
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", rest)
    return len(cjk) <= 2 and not re.search(r"[a-z0-9]", rest)


def _date_earlier(
    items: list[ActionItem], made_at: list[int], owner: Owner, turn: int, due: date | None
) -> bool:
    """A bare dated yes ("好的，这周之内发给您") dates the owner's latest undated promise."""
    if due is None:
        return False
    for k in range(len(items) - 1, -1, -1):
        if turn - made_at[k] > 4:
            break
        if items[k].owner == owner and items[k].due is None:
            items[k].due = due
            made_at[k] = turn
            return True
    return False


def _tokens(text: str) -> set[str]:
    t = text.lower()
    words = set(re.findall(r"[a-z0-9]{3,}", t)) - _EN_STOP
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", t)
    return words | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


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


def text_overlap(gold: str, got: str) -> float:
    """Share of the gold text's words (en) or character bigrams (zh) found in the other text."""
    g = _tokens(gold)
    return len(g & _tokens(got)) / len(g) if g else 0.0


def _restated(old: ActionItem, new: ActionItem) -> bool:
    """new (dated) says again what old (same owner, undated or due within a week) promised."""
    if old.owner != new.owner or new.due is None:
        return False
    overlap = max(text_overlap(old.text, new.text), text_overlap(new.text, old.text))
    if old.due is None:
        return overlap >= _RESTATED
    return abs((old.due - new.due).days) <= 7 and overlap >= 2 * _RESTATED


def _same_item(a: ActionItem, b: ActionItem) -> bool:
    return (
        a.owner == b.owner
        and a.due == b.due
        and (text_overlap(a.text, b.text) > 0.7 or text_overlap(b.text, a.text) > 0.7)
    )
